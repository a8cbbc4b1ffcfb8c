package experiments

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/BurntSushi/toml"
)

// minimal is the smallest valid configuration; the error cases below are
// written out in full so their line numbers can be read off.
const minimal = `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
epochs = 1
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
[[detector]]
type = "msp"
`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, toml, want string
	}{
		{"unknown top-level key", `nmae = "x"
[datasets.mnist]
kind = "mnist"
`, `x.toml:1: unknown key "nmae" (did you mean "name"?)`},
		{"unknown nested key", `[model]
arch = "lenet5"
widht = 3
`, `x.toml:3: unknown key "model.widht"`},
		{"unknown keys, all listed", `seeed = 1
[train]
epochs = 1
lr = 0.1
[evaluate]
smaples = 3
`, `x.toml: unknown keys "seeed" (line 1), "train.lr" (line 4), "evaluate.smaples" (line 6)`},
		{"unknown table, children not repeated", `[trian]
epochs = 1
dataset = "mnist"
`, `x.toml:1: unknown key "trian" (did you mean "train"?)`},
		{"type mismatch carries the line", `[datasets.mnist]
kind = "mnist"
[train]
epochs = "3"
`, `x.toml:4: train.epochs: expected integer, got string`},
		{"type mismatch of a table", `model = "lenet5"
`, `x.toml:1: model: expected table, got string`},
		{"syntax error has line and column", `seed = 1
[train]
epochs = = 1
`, `x.toml:3:10: expected value but found '=' instead`},
		{"duplicate key is a syntax error", `[train]
epochs = 1
epochs = 2
`, `x.toml:3:12: Key 'train.epochs' has already been defined.`},
		{"reference to an unknown dataset lists the known keys", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise", "fashion:test"]
[[detector]]
type = "msp"
`, `x.toml:8: evaluate.anomalies[1]: unknown dataset "fashion" (known: mnist, noise)`},
		{"malformed reference", `[datasets.mnist]
kind = "mnist"
[evaluate]
in_dist = "mnist:"
`, `x.toml:4: evaluate.in_dist: malformed reference "mnist:", expected "key" or "key:split"`},
		{"folds = 1", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
folds = 1
`, `x.toml:8: evaluate.folds: must be ≥ 2, got 1`},
		{"samples = 0", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
samples = 0
`, `x.toml:8: evaluate.samples: must be ≥ 1, got 0`},
		{"missing detector type", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
[[detector]]
type = "msp"
[[detector]]
name = "energy"
`, `x.toml:11: detector[1]: missing type`},
		{"detector type of the wrong type", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
[[detector]]
type = 1
`, `x.toml:10: detector[0].type: expected string, got integer`},
		{"single brackets for detector", `[datasets.mnist]
kind = "mnist"
[detector]
type = "msp"
`, `x.toml:3: detector: expected array, got table`},
		{"no detector", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
`, `x.toml: detector: at least one [[detector]] table is required`},
		{"neither train nor weights", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
[[detector]]
type = "msp"
`, `x.toml: no [train] table and model.weights is empty: set one of them`},
		{"no anomalies", `[datasets.mnist]
kind = "mnist"
[evaluate]
in_dist = "mnist:test"
anomalies = []
`, `x.toml:5: evaluate.anomalies: must list at least one anomaly set`},
		{"anomaly set equal to in_dist", `[datasets.mnist]
kind = "mnist"
[evaluate]
in_dist = "mnist:test"
anomalies = ["mnist:train", "mnist:test"]
`, `x.toml:5: evaluate.anomalies[0]: "mnist:train" is also the fit set (evaluate.fit)`},
		{"anomaly set equal to in_dist", `[datasets.mnist]
kind = "mnist"
[evaluate]
in_dist = "mnist:test"
fit = "mnist:train"
anomalies = ["mnist:test"]
`, `x.toml:6: evaluate.anomalies[0]: "mnist:test" is the in-distribution set (evaluate.in_dist)`},
		{"fit equal to in_dist", `[datasets.mnist]
kind = "mnist"
[evaluate]
in_dist = "mnist:test"
fit = "mnist:test"
`, `x.toml:5: evaluate.fit: "mnist:test" is the in-distribution test set; fit on other samples (e.g. a train split)`},
		{"no fit default without a split", `[datasets.a]
kind = "idx"
[evaluate]
in_dist = "a"
`, `x.toml:4: evaluate.in_dist: "a" has no split, so evaluate.fit has no default: name a separate set of in-distribution samples`},
		{"anomaly set listed twice", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = [
  "noise",
  "noise",
]
`, `x.toml:9: evaluate.anomalies[1]: "noise" is listed twice (also evaluate.anomalies[0])`},
		{"missing in_dist", `[datasets.mnist]
kind = "mnist"
[evaluate]
anomalies = ["mnist:test"]
`, `x.toml: evaluate.in_dist: missing; name the in-distribution test set`},
		{"unsafe name", `name = "../up"
`, `x.toml:1: name: must be a safe directory name (letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters), got "../up"`},
		{"negative seed", `seed = -1
`, `x.toml:1: seed: must be ≥ 0, got -1`},
		{"negative workers", `workers = -2
`, `x.toml:1: workers: must be ≥ 0 (0 = one per CPU), got -2`},
		{"unknown arch", `[model]
arch = "resnet"
`, `x.toml:2: model.arch: architecture "resnet": unknown (known: lenet5, lenet5-dropout, resnet20, resnet18, resnet34, densenet100, wrn-28-10, or resnet18-wN, resnet34-wN, densenet-bc-D-K, wrn-D-W)`},
		{"dataset without kind", `[datasets.mnist]
path = "data"
`, `x.toml:1: datasets.mnist: missing kind`},
		{"dataset key with a colon", `[datasets."a:b"]
kind = "mnist"
`, `x.toml:1: datasets."a:b": dataset keys cannot contain ':', which separates the split in references`},
		{"dataset that is not a table", `[datasets]
mnist = "mnist"
`, `x.toml:2: datasets.mnist: expected a table, got string`},
		{"train on an unknown dataset", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
dataset = "cifar10"
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
`, `x.toml:6: train.dataset: unknown dataset "cifar10" (known: mnist, noise)`},
		{"zero epochs", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
epochs = 0
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
`, `x.toml:6: train.epochs: must be ≥ 1, got 0`},
		{"non-positive learning rate", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
learning_rate = 0.0
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
`, `x.toml:6: train.learning_rate: must be a finite number > 0, got 0`},
		{"infinite learning rate", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
learning_rate = inf
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
`, `x.toml:6: train.learning_rate: must be a finite number > 0, got +Inf`},
		{"unknown schedule", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
schedule = "linear"
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
`, `x.toml:6: train.schedule: unknown schedule "linear" (want one of cosine, constant, step)`},
		{"unknown protocol", `[datasets.mnist]
kind = "mnist"
[train]
[evaluate]
in_dist = "mnist:test"
protocol = "adv"
`, `x.toml:6: evaluate.protocol: unknown protocol "adv" (want one of ood, adversarial, corruption)`},
		{"adversarial protocol without attacks", `[datasets.mnist]
kind = "mnist"
[train]
[evaluate]
in_dist = "mnist:test"
protocol = "adversarial"
[[detector]]
type = "msp"
`, `x.toml: attack: the adversarial protocol needs at least one [[attack]] table`},
		{"attack table outside its protocol", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
[[attack]]
type = "fgsm"
`, `x.toml:9: attack: [attack] belongs to the adversarial protocol, but evaluate.protocol is "ood"`},
		{"anomalies with a generating protocol", `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[train]
[evaluate]
in_dist = "mnist:test"
protocol = "corruption"
anomalies = ["noise"]
`, `x.toml:9: evaluate.anomalies: the corruption protocol makes its own anomalies from evaluate.in_dist; remove evaluate.anomalies`},
		{"severity out of range", `[datasets.mnist]
kind = "mnist"
[train]
[evaluate]
in_dist = "mnist:test"
protocol = "corruption"
[corruption]
severities = [1, 6]
`, `x.toml:8: corruption.severities[1]: severity must be 1–5, got 6`},
		{"unknown corruption key", `[datasets.mnist]
kind = "mnist"
[train]
[evaluate]
in_dist = "mnist:test"
protocol = "corruption"
[corruption]
severity = [1]
`, `x.toml:8: unknown key "corruption.severity"`},
		{"duplicate attack name", `[datasets.mnist]
kind = "mnist"
[train]
[evaluate]
in_dist = "mnist:test"
protocol = "adversarial"
[[attack]]
type = "fgsm"
name = "a"
[[attack]]
type = "pgd"
name = "a"
`, `x.toml:12: attack[1].name: duplicate attack name "a" (also attack[0]); give one a distinct name = "..."`},
		{"bad adapt step", `[datasets.mnist]
kind = "mnist"
adapt = ["channels", "rezise"]
`, `x.toml:3: datasets.mnist.adapt: step 1 is "rezise" (want one of grey, rgb, channels, square, center-crop, resize)`},
		{"adapt not an array", `[datasets.mnist]
kind = "mnist"
adapt = "resize"
`, `x.toml:3: datasets.mnist.adapt: expected an array of steps such as ["channels", "resize"], got string`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.toml), "x.toml")
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error %q", cfg, c.want)
			}
			if got := err.Error(); got != c.want {
				t.Errorf("error\n got %s\nwant %s", got, c.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *ConfigError", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestParseErrorWithoutFileName(t *testing.T) {
	_, err := Parse([]byte("name = \"x\"\nseed = -3\n"), "")
	if got, want := fmt.Sprint(err), "line 2: seed: must be ≥ 0, got -3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Without a file name there is no default run name.
	_, err = Parse([]byte(minimal), "")
	if got, want := fmt.Sprint(err), `name: missing, and the file name does not give a safe default; set name = "my-run"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTypeMismatchUnwrapsToTOML(t *testing.T) {
	_, err := Parse([]byte("workers = \"two\"\n"), "x.toml")
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Err == nil || !strings.Contains(ce.Err.Error(), "incompatible types") {
		t.Fatalf("got %v (%#v), want a ConfigError wrapping toml's type error", err, ce)
	}
	if ce.Key != "workers" || ce.Line != 1 {
		t.Errorf("Key, Line = %q, %d; want workers, 1", ce.Key, ce.Line)
	}
	_, err = Parse([]byte("a = = 1\n"), "x.toml")
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		t.Errorf("syntax error %v does not unwrap to toml.ParseError", err)
	}
}

func TestDetailed(t *testing.T) {
	src := "[datasets.mnist]\nkind = \"mnist\"\n[evaluate]\nin_dist = \"mnist:test\"\nanomalies = [\"noise\"]\n\tsamples   = 0 # none\n[datasets.noise]\nkind = \"uniform-noise\"\n"
	_, err := Parse([]byte(src), "x.toml")
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a ConfigError", err)
	}
	// Tab expanded to 8 columns; caret under the value only.
	want := "x.toml:6: evaluate.samples: must be ≥ 1, got 0\n" +
		"\n" +
		"      4 | in_dist = \"mnist:test\"\n" +
		"      5 | anomalies = [\"noise\"]\n" +
		"      6 |         samples   = 0 # none\n" +
		"                              ^\n"
	if got := ce.Detailed(); got != want {
		t.Errorf("Detailed:\n%s\nwant:\n%s", got, want)
	}

	// Unknown keys: one caret block per key, and the table's keys as help.
	_, err = Parse([]byte("[model]\nwidht = 1\ndepth = 2\n"), "x.toml")
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a ConfigError", err)
	}
	want = `x.toml: unknown keys "model.widht" (line 2), "model.depth" (line 3)

      1 | [model]
      2 | widht = 1
          ^^^^^

      1 | [model]
      2 | widht = 1
      3 | depth = 2
          ^^^^^

Help:

    Keys of [model]: arch, weights, name_map, mean, std, cache.
`
	if got := ce.Detailed(); got != want {
		t.Errorf("Detailed:\n%s\nwant:\n%s", got, want)
	}
	if got := strings.Join(ce.Unknown, ","); got != "model.widht,model.depth" {
		t.Errorf("Unknown = %q", got)
	}

	// Without position or source it degrades to the line plus the help.
	e := &ConfigError{File: "f.toml", Key: "evaluate.folds", Msg: "must be ≥ 2, got 1", Usage: "Use 5."}
	if got, want := e.Detailed(), "f.toml: evaluate.folds: must be ≥ 2, got 1\n\nHelp:\n\n    Use 5.\n"; got != want {
		t.Errorf("Detailed = %q, want %q", got, want)
	}
}

func TestSyntaxErrorKeepsTOMLHelp(t *testing.T) {
	_, err := Parse([]byte("name = \"a\nb\"\n"), "x.toml")
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	if got, want := ce.Error(), "x.toml:1:10: strings cannot contain newlines"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(ce.Usage, "Strings must always be on a single line") {
		t.Errorf("Usage = %q, want toml's help on newlines in strings", ce.Usage)
	}
}

func TestMNISTConfig(t *testing.T) {
	c, err := Load("../configs/mnist.toml")
	if err != nil {
		if ce, ok := err.(*ConfigError); ok {
			t.Fatal(ce.Detailed())
		}
		t.Fatal(err)
	}
	if c.Name != "mnist" || c.Out != "runs" || c.MasterSeed != 1 || c.Workers != 2 {
		t.Errorf("top level = %q %q %d %d", c.Name, c.Out, c.MasterSeed, c.Workers)
	}
	if !reflect.DeepEqual(c.Model, Model{Arch: "lenet5", Weights: "", NameMap: "auto", Cache: "cache"}) || !c.TrainsModel() {
		t.Errorf("model = %+v", c.Model)
	}
	// seed = 0 in [train]: derived, = Seed("train") with master seed 1 (Python check in TestSeed).
	wantTrain := Train{Dataset: "mnist", Split: "train", Epochs: 4, BatchSize: 64, LearningRate: 1e-3, Schedule: "cosine", Seed: 14628335061905875578, Optimizer: "adam"}
	if c.Train == nil || !reflect.DeepEqual(*c.Train, wantTrain) {
		t.Errorf("train = %+v, want %+v", c.Train, wantTrain)
	}
	if got := strings.Join(c.DatasetOrder, " "); got != "mnist fashion-mnist uniform gaussian" {
		t.Errorf("dataset order = %q", got)
	}
	kinds := map[string]string{"mnist": "mnist", "fashion-mnist": "fashion-mnist", "uniform": "uniform-noise", "gaussian": "gaussian-noise"}
	for k, kind := range kinds {
		if c.Datasets[k].Kind != kind {
			t.Errorf("datasets.%s.kind = %q, want %q", k, c.Datasets[k].Kind, kind)
		}
	}
	e := c.Evaluate
	if e.InDist != (Ref{"mnist", "test"}) || e.Fit != (Ref{"mnist", "train"}) || e.FitSamples != 2000 ||
		fmt.Sprint(e.Anomalies) != "[fashion-mnist:test uniform gaussian]" || e.Samples != 2000 || e.Folds != 5 {
		t.Errorf("evaluate = %+v", e)
	}
	var got []string
	for _, d := range c.Detectors {
		got = append(got, fmt.Sprintf("%d:%s:%s:%v", d.Index, d.Type, d.Name, d.Params.Keys()))
	}
	if s := strings.Join(got, " "); s != "0:msp::[] 1:maxlogit::[] 2:energy::[temperature] 3:gradnorm::[] 4:purview::[head] 5:purview::[head] 6:purview:purview-logreg:[activation head label]" {
		t.Errorf("detectors = %s", s)
	}
	var g struct{ Mean, Std float64 }
	if err := c.Datasets["gaussian"].Params.Decode(&g); err != nil || g.Mean != 0.5 || g.Std != 0.25 {
		t.Errorf("gaussian params = %+v, %v", g, err)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "configs/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "small" || c.Out != DefaultOut || c.MasterSeed != 0 || c.Workers != 0 {
		t.Errorf("top level = %q %q %d %d", c.Name, c.Out, c.MasterSeed, c.Workers)
	}
	if !reflect.DeepEqual(c.Model, Model{Arch: "lenet5", NameMap: "auto", Cache: "cache"}) {
		t.Errorf("model = %+v", c.Model)
	}
	want := Train{Dataset: "mnist", Split: "train", Epochs: 1, BatchSize: 64, LearningRate: 1e-3, Schedule: "cosine", Seed: 6387608752183916524, Optimizer: "adam"}
	if !reflect.DeepEqual(*c.Train, want) {
		t.Errorf("train = %+v, want %+v", *c.Train, want)
	}
	wantEval := "{InDist:mnist:test Fit:mnist:train FitSamples:2000 Anomalies:[noise] Samples:2000 Folds:5 Protocol:ood Repeats:1}"
	if got := fmt.Sprintf("%+v", c.Evaluate); got != wantEval {
		t.Errorf("evaluate = %s, want %s", got, wantEval)
	}
	if d := c.Detectors[0]; d.Name != "" || d.Type != "msp" || d.Index != 0 {
		t.Errorf("detector = %+v", d)
	}
	if string(c.Raw) != minimal || c.File != "configs/small.toml" {
		t.Errorf("Raw/File not kept")
	}

	// An in-distribution set without a split needs an explicit fit set;
	// weights make [train] optional, and win over it when both are given.
	c, err = Parse([]byte(`[model]
weights = "w.safetensors"
[datasets.a]
kind = "idx"
[datasets.fit]
kind = "idx"
[datasets.b]
kind = "uniform-noise"
[evaluate]
in_dist = "a"
fit = "fit"
anomalies = ["b"]
[[detector]]
type = "msp"
`), "c.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Evaluate.Fit != (Ref{Dataset: "fit"}) || c.Train != nil || c.TrainsModel() {
		t.Errorf("fit = %v, train = %v, trains = %v", c.Evaluate.Fit, c.Train, c.TrainsModel())
	}
}

func TestSeed(t *testing.T) {
	// Expected values from an independent Python implementation of the
	// documented formula (FNV-1a-64 of le64(seed) ‖ purpose, then SplitMix64's
	// finaliser).
	cases := []struct {
		master  int64
		purpose string
		want    uint64
	}{
		{1, "train", 14628335061905875578},
		{1, "sample:mnist:test", 5781100308359300460},
		{0, "train", 6387608752183916524},
		{0, "", 9313164154874788883},
		{2, "train", 5229486729510339354},
	}
	for _, c := range cases {
		cfg := &Config{MasterSeed: c.master}
		if got := cfg.Seed(c.purpose); got != c.want {
			t.Errorf("Seed(%d, %q) = %d, want %d", c.master, c.purpose, got, c.want)
		}
	}
	seen := map[uint64]string{}
	for m := int64(0); m < 20; m++ {
		for _, p := range []string{"train", "fold", "sample:mnist:test", "sample:noise", ""} {
			s := (&Config{MasterSeed: m}).Seed(p)
			if prev, dup := seen[s]; dup {
				t.Errorf("seed %d for (%d,%q) repeats %s", s, m, p, prev)
			}
			seen[s] = fmt.Sprintf("(%d,%q)", m, p)
		}
	}
}

func TestHash(t *testing.T) {
	// sha256(b'purview/experiments.Hash v1\n"a"\n1\n{"x":[1,2.5]}\n') in Python.
	if got, want := Hash("a", 1, map[string]any{"x": []float64{1, 2.5}}), "7cf1198d3c0b09e9ac055d2328931d1e5159c72e68e023868c2cde617aa424b5"; got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	parse := func(src string) *Config {
		t.Helper()
		c, err := Parse([]byte(src), "h.toml")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := parse(minimal)
	// Comments, key order, 1 vs 1.0 and unrelated sections do not change the key.
	same := parse(`# comment
[[detector]]
type = "energy"
[datasets.noise]
kind = "uniform-noise"
[datasets.mnist]
kind = "mnist"
[evaluate]
anomalies = ["noise"]
in_dist = "mnist:test"
folds = 3
[train]
epochs = 1
learning_rate = 0.001
`)
	if base.ModelHash() != same.ModelHash() {
		t.Errorf("ModelHash differs for equivalent configurations")
	}
	for _, src := range []string{
		strings.Replace(minimal, "epochs = 1", "epochs = 2", 1),
		strings.Replace(minimal, "epochs = 1", "epochs = 1\nseed = 5", 1),
		strings.Replace(minimal, `kind = "mnist"`, "kind = \"mnist\"\npath = \"other\"", 1),
		"seed = 1\n" + minimal, // the derived train seed changes
	} {
		if parse(src).ModelHash() == base.ModelHash() {
			t.Errorf("ModelHash unchanged for\n%s", src)
		}
	}
	// Dataset params hash by value; non-finite floats are encoded, not an error.
	a := parse(strings.Replace(minimal, `kind = "uniform-noise"`, "kind = \"uniform-noise\"\nx = 1.0\ny = nan", 1))
	b := parse(strings.Replace(minimal, `kind = "uniform-noise"`, "kind = \"uniform-noise\"\ny = nan\nx = 1", 1))
	if Hash(a.Datasets["noise"]) != Hash(b.Datasets["noise"]) {
		t.Errorf("dataset hash depends on key order or number spelling")
	}
	if j, _ := a.Datasets["noise"].Params.MarshalJSON(); string(j) != `{"x":1,"y":"NaN"}` {
		t.Errorf("params JSON = %s", j)
	}
}

// tableConfig has three detectors; temperature appears in two of them, so a
// decoder that tracked keys without the array index would miss the second.
const tableConfig = `[datasets.mnist]
kind = "mnist"
[datasets.gaussian]
kind = "gaussian-noise"
mean = 0.5
sdt = 0.25
[train]
[evaluate]
in_dist = "mnist:test"
anomalies = ["gaussian"]
[[detector]]
type = "energy"
temperature = 1.0
[[detector]]
type = "msp"
temperature = 2.0
[[detector]]
type = "purview"
name = "purview-logreg"
heda = "logreg"
[detector.grid]
ridge = [0.1, 1.0]
`

func TestTableDecoder(t *testing.T) {
	c, err := Parse([]byte(tableConfig), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	type energy struct{ Temperature float64 }
	type purview struct {
		Head string `toml:"head"`
		Grid struct {
			Ridge []float64 `toml:"ridge"`
		} `toml:"grid"`
	}
	type gauss struct{ Mean, Std float64 }
	var e energy
	cases := []struct {
		name string
		dec  *TableDecoder
		v    any
		want string
	}{
		{"known keys decode", c.Detectors[0].Params, &e, ""},
		{"a key of another table does not mask this one", c.Detectors[1].Params, &struct{}{},
			`t.toml:16: unknown key "detector[1].temperature"`},
		{"index in the path", c.Detectors[2].Params, &purview{},
			`t.toml:20: unknown key "detector[2].heda" (did you mean "detector[2].head"?)`},
		{"nested table key", c.Detectors[2].Params, &struct {
			Heda string
			Grid struct{ Rigde []float64 }
		}{}, `t.toml:22: unknown key "detector[2].grid.ridge"`},
		{"whole nested table unknown", c.Detectors[2].Params, &struct{ Heda string }{},
			`t.toml:21: unknown key "detector[2].grid"`},
		{"type mismatch gets the indexed path", c.Detectors[0].Params, &struct{ Temperature string }{},
			`t.toml:13: detector[0].temperature: expected string, got float`},
		{"dataset table", c.Datasets["gaussian"].Params, &gauss{},
			`t.toml:6: unknown key "datasets.gaussian.sdt" (did you mean "datasets.gaussian.std"?)`},
		{"reserved keys are not reported", c.Datasets["mnist"].Params, &struct{}{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dec.Decode(tc.v)
			if got := fmt.Sprint(err); (err == nil && tc.want != "") || (err != nil && got != tc.want) {
				t.Errorf("Decode error\n got %v\nwant %s", err, tc.want)
			}
			if err != nil {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Errorf("error is %T, want *ConfigError", err)
				}
			}
		})
	}
	if e.Temperature != 1 {
		t.Errorf("temperature = %v, want 1", e.Temperature)
	}

	// Decode from many goroutines at once (run with -race).
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p energy
			if err := c.Detectors[0].Params.Decode(&p); err != nil || p.Temperature != 1 {
				t.Errorf("concurrent Decode = %v, %v", p, err)
			}
		}()
	}
	wg.Wait()
}

func TestTableDecoderHelpers(t *testing.T) {
	c, err := Parse([]byte(tableConfig), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Detectors[1].Params
	if got, want := fmt.Sprint(d.CheckUsed()), `t.toml:16: unknown key "detector[1].temperature"`; got != want {
		t.Errorf("CheckUsed before Decode = %s, want %s", got, want)
	}
	var ce *ConfigError
	if errors.As(d.CheckUsed(), &ce); ce == nil || ce.Usage != `Detector type "msp" takes no parameters (besides type and name).` {
		t.Errorf("CheckUsed usage = %+v", ce)
	}
	d.Decode(&struct{ Temperature float64 }{})
	if err := d.CheckUsed(); err != nil {
		t.Errorf("CheckUsed after Decode = %v", err)
	}
	c.Detectors[0].Params.Decode(&struct{ Temperature float64 }{})
	if err := c.Detectors[0].Params.CheckUsed(); err != nil {
		t.Errorf("CheckUsed of a decoded table = %v", err)
	}
	if err := c.Datasets["mnist"].Params.CheckUsed(); err != nil {
		t.Errorf("CheckUsed of a table with only reserved keys = %v", err)
	}

	p := c.Detectors[2].Params
	if got, want := fmt.Sprint(p.Errorf("grid.ridge", "must be positive")), "t.toml:22: detector[2].grid.ridge: must be positive"; got != want {
		t.Errorf("Errorf = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(p.WrapError(errors.New("detectors: purview: no head"))), "t.toml:17: detector[2]: detectors: purview: no head"; got != want {
		t.Errorf("WrapError = %s, want %s", got, want)
	}
	inner := p.Errorf("heda", "x")
	if got := p.WrapError(fmt.Errorf("detectors: %w", inner)); !errors.Is(got, inner) {
		t.Errorf("WrapError rewrapped an error that already holds a ConfigError: %v", got)
	}
	if p.WrapError(nil) != nil {
		t.Errorf("WrapError(nil) != nil")
	}
	if p.Path() != "detector[2]" || c.Datasets["gaussian"].Params.Path() != "datasets.gaussian" {
		t.Errorf("paths = %q, %q", p.Path(), c.Datasets["gaussian"].Params.Path())
	}
}

func TestLocator(t *testing.T) {
	src := `# [not.a.table] and key = 1 in a comment
name = "x"   # trailing
[model]
arch = "lenet5"
  cache    =   "c"
[datasets.gaussian]
kind = "gaussian-noise"
"quoted key" = 1
[[detector]]
type = "msp"
[[detector]]
type = "energy"
[detector.grid]
t = [1.0,
     2.0]
[[detector]]
type = "purview"
doc = """
fake = 1
[fake.table]
"""
label = { kind = "khot", ones = [1, 3] }
[evaluate]
anomalies = [
  "a",   # first
  "b:test",
]
a.b.c = 3
[[x.y]]
z = 1
[[x.y]]
z = 2
`
	l := newLocator(src)
	cases := []struct {
		path      string
		line, col int // of the key
		value     string
	}{
		{"name", 2, 1, `"x"`},
		{"model", 3, 2, "model"},
		{"model.cache", 5, 3, `"c"`},
		{"datasets.gaussian", 6, 2, "datasets.gaussian"},
		{`datasets.gaussian."quoted key"`, 8, 1, "1"},
		{"detector", 9, 3, "detector"},
		{"detector[0]", 9, 3, "detector"},
		{"detector[0].type", 10, 1, `"msp"`},
		{"detector[1].type", 12, 1, `"energy"`},
		{"detector[1].grid", 13, 2, "detector.grid"},
		{"detector[1].grid.t", 14, 1, "[1.0,"},
		{"detector[1].grid.t[1]", 15, 6, "2.0"},
		{"detector[2]", 16, 3, "detector"},
		{"detector[2].doc", 18, 1, `"""`},
		{"detector[2].label", 22, 1, `{ kind = "khot", ones = [1, 3] }`},
		{"detector[2].label.kind", 22, 11, `"khot"`},
		{"detector[2].label.ones[1]", 22, 37, "3"},
		{"evaluate.anomalies", 24, 1, "["},
		{"evaluate.anomalies[0]", 25, 3, `"a"`},
		{"evaluate.anomalies[1]", 26, 3, `"b:test"`},
		{"evaluate.a.b.c", 28, 1, "3"},
		{"x.y[1].z", 32, 1, "2"},
	}
	for _, c := range cases {
		k, ok := l.find(c.path)
		if !ok {
			t.Errorf("%s: not found", c.path)
			continue
		}
		line, col := l.pos(k.keyStart)
		if line != c.line || col != c.col || src[k.valStart:k.valEnd] != c.value {
			t.Errorf("%s: line %d col %d value %q; want line %d col %d value %q",
				c.path, line, col, src[k.valStart:k.valEnd], c.line, c.col, c.value)
		}
	}
	for _, p := range []string{"fake", "fake.table", "not.a.table", "detector[2].fake", "detector[3]"} {
		if _, ok := l.find(p); ok {
			t.Errorf("%s: found, but it is not a key of the document", p)
		}
	}
}

// FuzzParse checks that no input makes Parse (or the locator behind its
// errors, or Detailed) panic or loop.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(tableConfig))
	f.Add([]byte("a = [1, {b = \"\"\"x\n]\"\"\"}, 'q'\n[[x.y]]\n[x.y.z]\n\"k\\\"\".'m' = {\n"))
	f.Add([]byte("\ufeff[model]\r\narch = 'lenet5'\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "f.toml")
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				_ = ce.Detailed()
			}
			return
		}
		if len(c.Detectors) > 20 {
			return // each Decode re-parses the file: quadratic, fine for real configs
		}
		for _, d := range c.Detectors {
			_ = d.Params.Decode(&struct{ Temperature float64 }{})
			_ = d.Params.CheckUsed()
		}
	})
}

// TestShippedConfigs parses every configuration in configs/, configs/paper/
// and configs/train/ and checks its tables offline (the CIFAR and SVHN data
// and the published weights are not on this machine; run and validate check
// them against the files).
func TestShippedConfigs(t *testing.T) {
	var files []string
	for _, dir := range []string{"../configs", "../configs/paper", "../configs/train"} {
		fs, err := filepath.Glob(dir + "/*.toml")
		if err != nil || len(fs) < 6 {
			t.Fatalf("%s: %v %v", dir, fs, err)
		}
		files = append(files, fs...)
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, "../configs/"), func(t *testing.T) {
			cfg, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckOffline(cfg, 10); err != nil {
				t.Fatal(err)
			}
			if base := filepath.Base(f); cfg.Name != strings.TrimSuffix(base, ".toml") {
				t.Errorf("name %q, want the file's base name", cfg.Name)
			}
			switch filepath.Base(filepath.Dir(f)) {
			case "paper":
				if cfg.Paper == nil || cfg.Paper.Claim != cfg.Evaluate.Protocol || cfg.TrainsModel() || !strings.HasPrefix(cfg.Model.Weights, "weights/") {
					t.Errorf("paper config: claim %+v, protocol %s, weights %q", cfg.Paper, cfg.Evaluate.Protocol, cfg.Model.Weights)
				}
			case "train":
				if !cfg.TrainsModel() || cfg.Paper != nil {
					t.Errorf("training recipe: trains %v, paper %+v", cfg.TrainsModel(), cfg.Paper)
				}
			}
			if cfg.Evaluate.InDist.Dataset == "cifar10" && cfg.Model.Arch != "resnet20" || strings.Contains(f, "train/cifar10") {
				// The Mahalanobis code's normalisation (OOD_Generate_Mahalanobis.py):
				// its ResNet's, and for its DenseNet ODIN's (125.3, 123.0, 113.9)/255
				// and (63.0, 62.1, 66.7)/255.
				mean, std := []float64{0.4914, 0.4822, 0.4465}, []float64{0.2023, 0.1994, 0.2010}
				if cfg.Model.Arch == "densenet100" {
					mean, std = []float64{125.3 / 255, 123.0 / 255, 113.9 / 255}, []float64{63.0 / 255, 62.1 / 255, 66.7 / 255}
				}
				if !reflect.DeepEqual(cfg.Model.Mean, mean) || !reflect.DeepEqual(cfg.Model.Std, std) {
					t.Errorf("mean %v std %v, want the Mahalanobis code's CIFAR-10 values for its %s (%v, %v)", cfg.Model.Mean, cfg.Model.Std, cfg.Model.Arch, mean, std)
				}
			}
		})
	}
}

// TestTrainingRecipes pins the recipes of configs/train to their sources
// (each file's comment names it).
func TestTrainingRecipes(t *testing.T) {
	cropFlip := []string{"crop", "flip"}
	cases := []struct {
		file string
		arch string
		want Train
	}{
		{"cifar10_resnet18", "resnet18", Train{Epochs: 200, BatchSize: 128, LearningRate: 0.1, Optimizer: "sgd", Momentum: 0.9, WeightDecay: 5e-4,
			Schedule: "cosine", Augment: cropFlip, CropPadding: 4}},
		{"cifar10_resnet34", "resnet34", Train{Epochs: 200, BatchSize: 128, LearningRate: 0.1, Optimizer: "sgd", Momentum: 0.9, WeightDecay: 5e-4,
			Schedule: "cosine", Augment: cropFlip, CropPadding: 4}},
		{"cifar10_densenet100", "densenet100", Train{Epochs: 300, BatchSize: 64, LearningRate: 0.1, Optimizer: "sgd", Momentum: 0.9, Nesterov: true,
			WeightDecay: 1e-4, Schedule: "step", Milestones: []int{150, 225}, Gamma: 0.1, Augment: cropFlip, CropPadding: 4}},
		{"cifar10_wrn-28-10", "wrn-28-10", Train{Epochs: 200, BatchSize: 128, LearningRate: 0.1, Optimizer: "sgd", Momentum: 0.9, Nesterov: true,
			WeightDecay: 5e-4, Schedule: "step", Milestones: []int{60, 120, 160}, Gamma: 0.2, Augment: cropFlip, CropPadding: 4}},
		{"cifar10_resnet20", "resnet20", Train{Epochs: 200, BatchSize: 128, LearningRate: 0.1, Optimizer: "sgd", Momentum: 0.9, WeightDecay: 1e-4,
			Schedule: "step", Milestones: []int{100, 150}, Gamma: 0.1, Augment: cropFlip, CropPadding: 4}},
		{"mnist_lenet5", "lenet5", Train{Epochs: 4, BatchSize: 64, LearningRate: 1e-3, Optimizer: "adam", Schedule: "cosine"}},
	}
	for _, c := range cases {
		cfg, err := Load("../configs/train/" + c.file + ".toml")
		if err != nil {
			t.Fatal(err)
		}
		got := *cfg.Train
		got.Dataset, got.Split, got.Seed = "", "", 0
		if cfg.Model.Arch != c.arch || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: arch %s, train %+v\nwant arch %s, train %+v", c.file, cfg.Model.Arch, got, c.arch, c.want)
		}
	}
	// The MNIST recipe shares configs/mnist.toml's cached model.
	a, _ := Load("../configs/train/mnist_lenet5.toml")
	b, _ := Load("../configs/mnist.toml")
	sa, _ := modelSection(a, 10)
	sb, _ := modelSection(b, 10)
	if a.ModelHash() != b.ModelHash() || !bytes.Equal(sa, sb) {
		t.Errorf("configs/train/mnist_lenet5.toml and configs/mnist.toml train different models:\n%s\n%s", sa, sb)
	}
}
