package attacks

import (
	"strings"
	"testing"
)

// The defaults are torchattacks 3.5.1's (reference/anchors.md §4.2), CW's
// binary search cleverhans', DeepFool's candidates Foolbox's.
func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Attack
	}{
		{"fgsm", FGSM{Eps: 8.0 / 255}},
		{"bim", BIM{Eps: 8.0 / 255, Alpha: 2.0 / 255, Steps: 10}},
		{"pgd", PGD{Eps: 8.0 / 255, Alpha: 2.0 / 255, Steps: 10, RandomStart: true}},
		{"pgdl2", PGDL2{Eps: 1, Alpha: 0.2, Steps: 10, RandomStart: true}},
		{"cw", CW{C: 1, Kappa: 0, Steps: 50, LR: 0.01, BinarySearchSteps: 5, AbortEarly: true}},
		{"deepfool", DeepFool{Steps: 50, Overshoot: 0.02, Candidates: 10, StepScale: 1}},
	} {
		a, err := New(tc.name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a != tc.want {
			t.Errorf("New(%q, nil) = %+v, want %+v", tc.name, a, tc.want)
		}
		if a.Name() != tc.name {
			t.Errorf("New(%q).Name() = %q", tc.name, a.Name())
		}
		if Doc(tc.name) == "" {
			t.Errorf("Doc(%q) is empty", tc.name)
		}
	}
	if got := strings.Join(Names(), " "); got != "bim cw deepfool fgsm pgd pgdl2" {
		t.Errorf("Names() = %s", got)
	}
}

func TestNewParams(t *testing.T) {
	a, err := New("pgd", Params{"eps": 0.1, "steps": 40, "random_start": false})
	if err != nil {
		t.Fatal(err)
	}
	if want := (PGD{Eps: 0.1, Alpha: 2.0 / 255, Steps: 40}); a != want {
		t.Errorf("pgd = %+v, want %+v", a, want)
	}
	// A nil pointer stands for a missing table.
	if a, err := New("fgsm", (*ptrDecoder)(nil)); err != nil || a != (FGSM{Eps: 8.0 / 255}) {
		t.Errorf("New with a nil *ptrDecoder: %+v, %v", a, err)
	}
	if a, err := New("fgsm-kdbu-mnist", (*ptrDecoder)(nil)); err != nil || a.(named).Attack != (FGSM{Eps: 0.3}) {
		t.Errorf("preset with a nil *ptrDecoder: %+v, %v", a, err)
	}
	// An integer fills a float field.
	if a, err := New("pgdl2", Params{"eps": 2}); err != nil || a.(PGDL2).Eps != 2 {
		t.Errorf("pgdl2 eps = 2: %+v, %v", a, err)
	}
	for _, tc := range []struct {
		name   string
		params Params
		want   string
	}{
		{"pgd", Params{"epz": 0.1}, `attacks: pgd params: unknown key "epz"`},
		{"pgd", Params{"steps": 1.5}, "attacks: pgd params: toml:"},
		{"fgsm", Params{"eps": -0.1}, "attacks: fgsm: eps = -0.1, want a finite value ≥ 0"},
		{"bim", Params{"steps": -1}, "attacks: bim: steps = -1"},
		{"cw", Params{"c": 0}, "attacks: cw: c = 0, want a finite value > 0"},
		{"cw", Params{"binary_search_steps": 0}, "binary_search_steps = 0"},
		{"deepfool", Params{"candidates": 1}, "candidates = 1"},
		{"deepfool", Params{"step_scale": 0}, "step_scale = 0"},
		{"fgsm-kdbu-mnist", Params{"alpha": 0.1}, `attacks: preset fgsm-kdbu-mnist: attacks: fgsm params: unknown key "alpha"`},
		{"nope", nil, `attacks: unknown attack "nope" (attacks: bim, cw, deepfool, fgsm, pgd, pgdl2; presets: bim-a-kdbu-cifar10,`},
	} {
		_, err := New(tc.name, tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %v): error %v, want one containing %q", tc.name, tc.params, err, tc.want)
		}
	}
}

func TestPresets(t *testing.T) {
	ps := Presets()
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			t.Errorf("preset %s listed twice", p.Name)
		}
		seen[p.Name] = true
		a, err := New(p.Name, nil)
		if err != nil {
			t.Errorf("preset %s: %v", p.Name, err)
			continue
		}
		if a.Name() != p.Name || p.Source == "" || Doc(p.Name) == "" {
			t.Errorf("preset %s: name %q, source %q, doc %q", p.Name, a.Name(), p.Source, Doc(p.Name))
		}
	}
	if len(ps) != 27 {
		t.Errorf("%d presets, want 27 (2 papers × 3 datasets × 3 + 3 + 6)", len(ps))
	}
	// Values from reference/anchors.md §4.3.
	for _, tc := range []struct {
		name string
		want Attack
	}{
		{"fgsm-kdbu-mnist", FGSM{Eps: 0.3}},
		{"fgsm-kdbu-cifar10", FGSM{Eps: 0.05}},
		{"fgsm-lid-mnist", FGSM{Eps: 0.4}},
		{"fgsm-lid-svhn", FGSM{Eps: 0.13}},
		{"bim-a-kdbu-mnist", BIM{Eps: 0.3, Alpha: 0.01, Steps: 50, EarlyStop: true}},
		{"bim-b-kdbu-cifar10", BIM{Eps: 0.05, Alpha: 0.005, Steps: 50}},
		{"bim-b-lid-svhn", BIM{Eps: 0.13, Alpha: 0.01, Steps: 50}},
		{"fgsm-mahalanobis", FGSM{Eps: 0.05}},
		{"bim-mahalanobis", BIM{Eps: 0.06, Alpha: 0.01, Steps: 6}},
		{"cw-mahalanobis", CW{C: 1, LR: 0.01, Steps: 100, BinarySearchSteps: 1}},
		{"deepfool-mahalanobis-resnet-cifar10", DeepFool{Steps: 5, StepScale: 1.8}},
		{"deepfool-mahalanobis-resnet-cifar100", DeepFool{Steps: 5, StepScale: 3}},
		{"deepfool-mahalanobis-densenet-svhn", DeepFool{Steps: 5, StepScale: 5}},
	} {
		a, err := New(tc.name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.(named).Attack; got != tc.want {
			t.Errorf("%s = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// A table overrides the preset, which overrides the defaults.
	a, err := New("bim-b-kdbu-mnist", Params{"steps": 5})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.(named).Attack, (BIM{Eps: 0.3, Alpha: 0.01, Steps: 5}); got != want {
		t.Errorf("bim-b-kdbu-mnist with steps 5 = %+v, want %+v", got, want)
	}
	if n, eps := a.Threat(); n != Linf || eps != 0.3 {
		t.Errorf("Threat() = %v, %v", n, eps)
	}
	// Presets returns copies.
	ps[0].Params["eps"] = 99.0
	if Presets()[0].Params["eps"] == 99.0 {
		t.Error("Presets shares its Params with the registry")
	}
}

func TestRegisterPanics(t *testing.T) {
	for _, name := range []string{"fgsm", "fgsm-kdbu-mnist", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			Register(name, "dup", newFGSM)
		}()
	}
}

// torchattacks' BIM step rule for steps = 0: ⌊min(255ε + 4, 1.25·255ε)⌋.
func TestBIMNumSteps(t *testing.T) {
	for _, tc := range []struct {
		eps   float64
		steps int
		want  int
	}{
		{8.0 / 255, 0, 10},  // min(12, 10)
		{4.0 / 255, 0, 5},   // min(8, 5)
		{16.0 / 255, 0, 20}, // min(20, 20)
		{0.3, 0, 80},        // min(80.5, 95.625)
		{0.3, 7, 7},
	} {
		if got := (BIM{Eps: tc.eps, Steps: tc.steps}).NumSteps(); got != tc.want {
			t.Errorf("eps %g steps %d: %d steps, want %d", tc.eps, tc.steps, got, tc.want)
		}
	}
}

type ptrDecoder struct{ p Params }

func (d *ptrDecoder) Decode(v any) error { return d.p.Decode(v) }
