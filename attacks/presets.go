package attacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Preset is a named attack setting from a detection paper: an attack and the
// parameters that differ from its defaults, in pixel space [0,1].
type Preset struct {
	Name   string // e.g. "fgsm-kdbu-mnist"
	Attack string // the registered attack, e.g. "fgsm"
	Params Params // parameters applied over the attack's defaults
	Source string // paper, repository and file the values come from
	Note   string // how the setting was mapped to this package, where not verbatim
}

// Doc returns a one-line description: attack, parameters, source and note.
func (p Preset) Doc() string {
	keys := slices.Sorted(maps.Keys(p.Params))
	kv := make([]string, len(keys))
	for i, k := range keys {
		kv[i] = fmt.Sprintf("%s=%v", k, p.Params[k])
	}
	s := fmt.Sprintf("%s with %s (%s)", p.Attack, strings.Join(kv, ", "), p.Source)
	if p.Note != "" {
		s += "; " + p.Note
	}
	return s
}

const (
	srcKDBU = "Feinman et al. 2017, rfeinman/detecting-adversarial-samples scripts/craft_adv_samples.py ATTACK_PARAMS, nb_iter 50"
	srcLID  = "Ma et al. 2018, xingjunm/lid_adversarial_subspace_detection craft_adv_examples.py ATTACK_PARAMS, nb_iter 50"
	srcMaha = "Lee et al. 2018, pokaxpoka/deep_Mahalanobis_detector ADV_Samples.py and lib/adversary.py"
)

// presets is built once; Presets returns copies.
var presets = buildPresets()

func buildPresets() []Preset {
	var ps []Preset
	// Feinman et al. (KD+BU) and Ma et al. (LID): FGSM, BIM-A and BIM-B with
	// per-dataset ε and step. The LID code clips to [−0.5, 0.5], a range of
	// width 1, so its ε are pixel units too.
	type setting struct {
		ds         string
		eps, alpha float64
	}
	papers := []struct {
		tag, src string
		settings []setting
	}{
		{"kdbu", srcKDBU, []setting{{"mnist", 0.3, 0.01}, {"cifar10", 0.05, 0.005}, {"svhn", 0.13, 0.01}}},
		{"lid", srcLID, []setting{{"mnist", 0.4, 0.01}, {"cifar10", 0.05, 0.005}, {"svhn", 0.13, 0.01}}},
	}
	for _, p := range papers {
		for _, s := range p.settings {
			ps = append(ps,
				Preset{Name: "fgsm-" + p.tag + "-" + s.ds, Attack: "fgsm", Params: Params{"eps": s.eps}, Source: p.src},
				Preset{Name: "bim-a-" + p.tag + "-" + s.ds, Attack: "bim", Params: Params{"eps": s.eps, "alpha": s.alpha, "steps": 50, "early_stop": true}, Source: p.src,
					Note: "BIM-A: each sample stops at its first misclassified iterate"},
				Preset{Name: "bim-b-" + p.tag + "-" + s.ds, Attack: "bim", Params: Params{"eps": s.eps, "alpha": s.alpha, "steps": 50}, Source: p.src,
					Note: "BIM-B: the last iterate"},
			)
		}
	}

	// Lee et al. (Mahalanobis) work on normalised tensors; a step of a/std
	// per channel there is a step of a in pixel space.
	ps = append(ps,
		Preset{Name: "fgsm-mahalanobis", Attack: "fgsm", Params: Params{"eps": 0.05}, Source: srcMaha,
			Note: "their step 0.05·sign(∇)/std in normalised space is 0.05 in pixel space"},
		Preset{Name: "bim-mahalanobis", Attack: "bim", Params: Params{"eps": 0.06, "alpha": 0.01, "steps": 6}, Source: srcMaha,
			Note: "5 loop steps + a final step of 0.01/std, no ε-ball (eps 0.06 never binds); their first step is not divided by std (0.01·std in pixels), which is not reproduced"},
		Preset{Name: "cw-mahalanobis", Attack: "cw", Params: Params{"c": 1.0, "lr": 0.01, "steps": 100, "kappa": 0.0, "binary_search_steps": 1, "abort_early": false}, Source: srcMaha,
			Note: "their CW runs Adam on x itself (no tanh) against the clean runner-up class and keeps the lowest total loss; this is tanh-space CW with their constants"},
	)
	// Their DeepFool passes adv_noise as step_size to adversary.deepfool
	// (max_iter 5): every step is scaled, there is no overshoot, and since the
	// per-class gradients come from an NLLLoss averaged over the C copies of
	// the image, the step is C·adv_noise times the linearised distance.
	for _, d := range []struct {
		net, ds         string
		classes         int
		advNoise, scale float64 // scale = classes·advNoise, written out to keep it exact
	}{
		{"resnet", "cifar10", 10, 0.18, 1.8}, {"resnet", "cifar100", 100, 0.03, 3}, {"resnet", "svhn", 10, 0.1, 1},
		{"densenet", "cifar10", 10, 0.6, 6}, {"densenet", "cifar100", 100, 0.1, 10}, {"densenet", "svhn", 10, 0.5, 5},
	} {
		ps = append(ps, Preset{
			Name: "deepfool-mahalanobis-" + d.net + "-" + d.ds, Attack: "deepfool",
			Params: Params{"steps": 5, "overshoot": 0.0, "candidates": 0, "step_scale": d.scale},
			Source: srcMaha,
			Note:   fmt.Sprintf("adv_noise %g is a per-step scale; the mean NLLLoss over %d class copies multiplies it by %d", d.advNoise, d.classes, d.classes),
		})
	}
	return ps
}

// Presets returns the named settings of the classic detection papers, in a
// fixed order. The slice and its Params are copies.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		p.Params = maps.Clone(p.Params)
		out[i] = p
	}
	return out
}

// PresetNames returns the presets' names, sorted.
func PresetNames() []string {
	ns := make([]string, len(presets))
	for i, p := range presets {
		ns[i] = p.Name
	}
	slices.Sort(ns)
	return ns
}

func presetByName(name string) (Preset, bool) {
	for _, p := range presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}
