package models

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// NameMap rewrites the tensor names of a published checkpoint into the
// harness's (which are those of the reference code each architecture
// follows). A leading "module." (nn.DataParallel) is always stripped.
type NameMap struct {
	Name     string
	Families []string // architecture families it applies to (nil: all)
	Doc      string
	rules    []nameRule
}

type nameRule struct {
	re   *regexp.Regexp
	repl func(m []string) string
}

func rule(pattern string, repl func(m []string) string) nameRule {
	return nameRule{regexp.MustCompile(pattern), repl}
}

// Name maps.
const (
	NameMapAuto = "auto" // the first map under which the file fits exactly
	NameMapNone = "none" // names as they are (after stripping "module.")
)

var nameMaps = []NameMap{
	{Name: NameMapNone, Doc: "the reference code's own names: kuangliu/pytorch-cifar and the Mahalanobis code (ResNet-18/34), ODIN/Mahalanobis DenseNet3, xternalz/RobustBench/Outlier-Exposure WideResNet, torch_ref.py's ResNet-20"},
	{Name: "torchvision", Families: []string{"resnet"}, Doc: "torchvision-style CIFAR ResNets (huyvnphan/PyTorch_CIFAR10, OpenOOD's resnet18_32x32): fc → linear, downsample → shortcut",
		rules: []nameRule{
			rule(`^fc\.(weight|bias)$`, func(m []string) string { return "linear." + m[1] }),
			rule(`^(layer\d+\.\d+)\.downsample\.([01])\.(.*)$`, func(m []string) string { return m[1] + ".shortcut." + m[2] + "." + m[3] }),
		}},
	{Name: "chenyaofo", Families: []string{"resnet20"}, Doc: "chenyaofo/pytorch-cifar-models' resnet20: layerS.I → blocks.(3(S−1)+I), downsample → shortcut",
		rules: []nameRule{
			rule(`^layer([123])\.([012])\.(.*)$`, func(m []string) string {
				s, _ := strconv.Atoi(m[1])
				i, _ := strconv.Atoi(m[2])
				rest := strings.Replace(m[3], "downsample.", "shortcut.", 1)
				return fmt.Sprintf("blocks.%d.%s", 3*(s-1)+i, rest)
			}),
		}},
}

// NameMaps lists the known name maps (NameMapAuto aside).
func NameMaps() []NameMap { return slices.Clone(nameMaps) }

func (m NameMap) appliesTo(family string) bool {
	return m.Families == nil || slices.Contains(m.Families, family)
}

func (m NameMap) apply(ps []Param) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		name := strings.TrimPrefix(p.Name, "module.")
		for _, r := range m.rules {
			if s := r.re.FindStringSubmatch(name); s != nil {
				name = r.repl(s)
				break
			}
		}
		out[i] = Param{Name: name, Shape: p.Shape, Data: p.Data}
	}
	return out
}

// LoadWeights builds the network sp describes and fills it with the
// safetensors file at path, whose tensors carry PyTorch state_dict() names
// (as scripts/pth2safetensors.py or SaveCheckpoint writes them). nameMap is
// NameMapAuto, NameMapNone or a map of NameMaps. sp.Classes 0 takes the class
// count from the file's classifier; sp.Mean/Std unset take the file's
// normalisation metadata if it has one (SaveCheckpoint records it). It returns
// the name map used. When nothing fits, the error names the file and lists
// the missing, unexpected and mis-shaped tensors under the closest map.
func LoadWeights(path string, sp Spec, nameMap string) (*Sequential, string, error) {
	a, err := ParseArch(sp.Arch)
	if err != nil {
		return nil, "", err
	}
	raw, meta, err := ReadCheckpoint(path)
	if err != nil {
		return nil, "", err
	}
	if err := checkArchMeta(path, meta, sp.Arch); err != nil {
		return nil, "", err
	}
	if sp.Mean == nil && sp.Std == nil && meta["mean"] != "" {
		if json.Unmarshal([]byte(meta["mean"]), &sp.Mean) != nil || json.Unmarshal([]byte(meta["std"]), &sp.Std) != nil {
			return nil, "", fmt.Errorf("models: weights %s: metadata mean %q / std %q are not JSON number lists", path, meta["mean"], meta["std"])
		}
	}
	var maps []NameMap
	for _, m := range nameMaps {
		if (nameMap == NameMapAuto && m.appliesTo(a.Family)) || m.Name == nameMap {
			maps = append(maps, m)
		}
	}
	if len(maps) == 1 && !maps[0].appliesTo(a.Family) {
		return nil, "", fmt.Errorf("models: name map %q is for %s, not %s", nameMap, strings.Join(maps[0].Families, ", "), sp.Arch)
	}
	if len(maps) == 0 {
		var known []string
		for _, m := range nameMaps {
			known = append(known, m.Name)
		}
		return nil, "", fmt.Errorf("models: unknown name map %q (known: auto, %s)", nameMap, strings.Join(known, ", "))
	}
	var best error
	bestBad := -1
	classifier := classifierBias(a)
	for _, m := range maps {
		ps := m.apply(raw)
		spec := sp
		if spec.Classes == 0 {
			spec.Classes = 2
			for _, p := range ps {
				if p.Name == classifier && len(p.Shape) == 1 && p.Shape[0] >= 2 {
					spec.Classes = p.Shape[0]
				}
			}
		}
		net, err := New(spec)
		if err != nil {
			return nil, "", fmt.Errorf("models: weights %s: %w", path, err)
		}
		bad, err := net.fit(ps)
		if err == nil {
			copyInto(net, ps)
			return net, m.Name, nil
		}
		if bestBad < 0 || bad < bestBad {
			bestBad = bad
			best = fmt.Errorf("models: weights %s do not fit %s (name map %q): %v", path, sp.Arch, m.Name, err)
		}
	}
	return nil, "", best
}

// classifierBias names the architecture's classifier bias: its last
// trainable tensor, whose length is the class count.
func classifierBias(a ArchInfo) string {
	b := a.build(Spec{Arch: a.Name, Classes: 2})
	return b.params[len(b.params)-1].Name
}
