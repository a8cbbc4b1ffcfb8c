package models

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"
)

// renamed returns net's state dict under new names.
func renamed(net *Sequential, rename func(string) string) []Param {
	ps := net.StateDict()
	for i := range ps {
		ps[i].Name = rename(ps[i].Name)
	}
	return ps
}

// TestLoadWeightsNameMaps: files written under the names of published
// checkpoints (DataParallel prefix, torchvision-style ResNets, chenyaofo's
// ResNet-20) load under "auto" into the harness's names, with the classes
// taken from the classifier, and equal the original weights.
func TestLoadWeightsNameMaps(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		arch, wantMap string
		classes       int
		rename        func(string) string
	}{
		{"resnet18-w2", "none", 10, func(n string) string { return "module." + n }},
		{"resnet18-w2", "torchvision", 7, func(n string) string {
			n = strings.Replace(n, "linear.", "fc.", 1)
			return strings.Replace(n, ".shortcut.", ".downsample.", 1)
		}},
		{"resnet20", "chenyaofo", 100, func(n string) string {
			var k int
			var rest string
			if _, err := fmtSscan(n, &k, &rest); err == nil {
				n = "layer" + string(rune('1'+k/3)) + "." + string(rune('0'+k%3)) + "." + strings.Replace(rest, "shortcut.", "downsample.", 1)
			}
			return n
		}},
		{"densenet-bc-10-2", "none", 10, func(n string) string { return n }},
		{"wrn-10-1", "none", 10, func(n string) string { return n }},
	}
	for _, c := range cases {
		t.Run(c.arch+"/"+c.wantMap, func(t *testing.T) {
			src, err := New(Spec{Arch: c.arch, Classes: c.classes, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			randomizeBN(t, src, 4)
			path := filepath.Join(dir, c.arch+c.wantMap+".safetensors")
			if err := WriteTensors(path, renamed(src, c.rename), nil); err != nil {
				t.Fatal(err)
			}
			net, used, err := LoadWeights(path, Spec{Arch: c.arch}, NameMapAuto)
			if err != nil {
				t.Fatal(err)
			}
			if used != c.wantMap || net.Classes() != c.classes {
				t.Errorf("map %q, %d classes; want %q, %d", used, net.Classes(), c.wantMap, c.classes)
			}
			want, got := src.StateDict(), net.StateDict()
			for i := range want {
				if want[i].Name != got[i].Name || !slices.Equal(want[i].Data, got[i].Data) {
					t.Fatalf("tensor %s differs after loading", want[i].Name)
				}
			}
		})
	}
}

// fmtSscan parses "blocks.K.rest".
func fmtSscan(n string, k *int, rest *string) (int, error) {
	if !strings.HasPrefix(n, "blocks.") {
		return 0, errNotBlock
	}
	f := strings.SplitN(strings.TrimPrefix(n, "blocks."), ".", 2)
	v := 0
	for _, r := range f[0] {
		v = 10*v + int(r-'0')
	}
	*k, *rest = v, f[1]
	return 2, nil
}

var errNotBlock = &strErr{"not a block"}

type strErr struct{ s string }

func (e *strErr) Error() string { return e.s }

// TestLoadWeightsErrors: what a user gets for the wrong file.
func TestLoadWeightsErrors(t *testing.T) {
	dir := t.TempDir()
	r18, _ := New(Spec{Arch: "resnet18-w2", Classes: 10, Seed: 1})
	path := filepath.Join(dir, "r18.safetensors")
	if err := WriteTensors(path, r18.StateDict(), nil); err != nil {
		t.Fatal(err)
	}
	norm, _ := New(Spec{Arch: "wrn-10-1", Classes: 10, Seed: 1, Mean: cifarMean, Std: cifarStd})
	normPath := filepath.Join(dir, "norm.safetensors")
	if err := SaveCheckpoint(normPath, norm); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec    Spec
		path    string
		nameMap string
		want    string
	}{
		{Spec{Arch: "resnet34-w2"}, path, NameMapAuto, `r18.safetensors do not fit resnet34-w2 (name map "none"): missing 80 [layer1.2.conv1.weight, layer1.2.bn1.weight, layer1.2.bn1.bias, layer1.2.bn1.running_mean, layer1.2.bn1.running_var, layer1.2.conv2.weight, … 74 more]`},
		{Spec{Arch: "resnet18-w2", Classes: 100}, path, NameMapAuto, "mis-shaped 2 [linear.weight [10 16] (want [100 16]), linear.bias [10] (want [100])]"},
		{Spec{Arch: "resnet18-w2"}, path, "chenyaofo", `name map "chenyaofo" is for resnet20, not resnet18-w2`},
		{Spec{Arch: "resnet18-w2"}, path, "tf", `unknown name map "tf"`},
		{Spec{Arch: "resnet18-w3"}, path, NameMapNone, "mis-shaped 101 [conv1.weight [2 3 3 3] (want [3 3 3 3]), bn1.weight [2] (want [3]), bn1.bias [2] (want [3]), bn1.running_mean [2] (want [3]), bn1.running_var [2] (want [3]), layer1.0.conv1.weight [2 2 3 3] (want [3 3 3 3]), … 95 more]"},
		{Spec{Arch: "resnet18-w2"}, normPath, NameMapAuto, "hold a wrn-10-1, want resnet18-w2"},
		{Spec{Arch: "vgg16"}, path, NameMapAuto, `architecture "vgg16": unknown`},
		{Spec{Arch: "resnet18-w2"}, filepath.Join(dir, "none.safetensors"), NameMapAuto, "no such file"},
	} {
		_, _, err := LoadWeights(c.path, c.spec, c.nameMap)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadWeights(%s, %s, %s) = %v\nwant error containing %q", filepath.Base(c.path), c.spec.Arch, c.nameMap, err, c.want)
		}
	}
	// Aliases name the same network.
	for _, c := range []struct{ saved, loaded string }{{"resnet18-w64", ArchResNet18}, {"densenet-bc-100-12", ArchDenseNet100}} {
		a, b := mustParse(t, c.saved), mustParse(t, c.loaded)
		if a.Canonical != b.Canonical {
			t.Errorf("%s and %s: canonical %s and %s", c.saved, c.loaded, a.Canonical, b.Canonical)
		}
	}
	if mustParse(t, "wrn-28-10").Canonical == mustParse(t, "wrn-28-1").Canonical {
		t.Error("wrn-28-10 and wrn-28-1 share a canonical name")
	}
	// The normalisation travels in the file's metadata.
	net, _, err := LoadWeights(normPath, Spec{Arch: "wrn-10-1"}, NameMapAuto)
	if err != nil {
		t.Fatal(err)
	}
	if m, s := net.Normalization(); !slices.Equal(m, cifarMean) || !slices.Equal(s, cifarStd) {
		t.Errorf("normalisation %v / %v, want %v / %v", m, s, cifarMean, cifarStd)
	}
}

// TestHalfPrecision: binary16 and bfloat16 widen exactly (values from the
// IEEE 754 tables).
func TestHalfPrecision(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 1.0 / (1 << 24)}, {0x8000, float32(math.Copysign(0, -1))},
		{0x3555, 0.333251953125}, {0x0400, 1.0 / (1 << 14)}, {0x03ff, 1023.0 / (1 << 24)},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := half(c.h); math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("half(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if !math.IsNaN(float64(half(0x7e00))) {
		t.Error("half(0x7e00) is not NaN")
	}
	got, err := toFloat32(safetensors.BF16, []byte{0x80, 0x3f, 0x00, 0xc0})
	if err != nil || !slices.Equal(got, []float32{1, -2}) {
		t.Errorf("BF16 = %v, %v", got, err)
	}
	if _, err := toFloat32(safetensors.I64, make([]byte, 8)); err == nil {
		t.Error("I64 accepted as weights")
	}
}

func mustParse(t *testing.T, arch string) ArchInfo {
	t.Helper()
	a, err := ParseArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLoadCheckpointAliases: LoadCheckpoint accepts a file saved under an
// alias of the network's architecture and refuses another network.
func TestLoadCheckpointAliases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.safetensors")
	src, _ := NewNetwork(ArchDenseNet100, 10, 1)
	if err := SaveCheckpoint(path, src); err != nil {
		t.Fatal(err)
	}
	alias, _ := NewNetwork("densenet-bc-100-12", 10, 2)
	if err := LoadCheckpoint(path, alias); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alias.StateDict()[0].Data, src.StateDict()[0].Data) {
		t.Error("weights not loaded")
	}
	other, _ := NewNetwork("densenet-bc-94-12", 10, 1)
	if err := LoadCheckpoint(path, other); err == nil || !strings.Contains(err.Error(), "hold a densenet100, want densenet-bc-94-12") {
		t.Errorf("LoadCheckpoint into densenet-bc-94-12: %v", err)
	}
}
