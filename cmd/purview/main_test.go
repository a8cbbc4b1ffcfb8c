package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/models"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nothere.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[evaluate]\nfolds = 1\nsmaples = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		args   []string
		status int
		stdout string // prefix of stdout
		stderr string // exact stderr, or its prefix when it ends in "…"
	}{
		{"help", []string{"help"}, 0, "Purview runs", ""},
		{"--help", []string{"--help"}, 0, "Purview runs", ""},
		{"help run", []string{"help", "run"}, 0, "usage: purview run CONFIG [--out DIR] [--cache DIR] [--workers N] [--shard I/N]\n\nRun loads", ""},
		{"run -h", []string{"run", "-h"}, 0, "usage: purview run CONFIG", ""},
		{"run --help after an argument", []string{"run", "x.toml", "--help"}, 0, "usage: purview run CONFIG", ""},
		{"no command", nil, 2, "", "Purview runs…"},
		{"unknown command", []string{"frobnicate"}, 2, "",
			"purview frobnicate: unknown command\nRun 'purview help' for usage.\n"},
		{"help on an unknown command", []string{"help", "frobnicate"}, 2, "",
			"purview help frobnicate: unknown command\nRun 'purview help' for usage.\n"},
		{"missing argument", []string{"run"}, 2, "",
			"purview run: missing CONFIG argument\nusage: purview run CONFIG [--out DIR] [--cache DIR] [--workers N] [--shard I/N]\nRun 'purview help run' for details.\n"},
		{"extra argument", []string{"validate", "a.toml", "b.toml"}, 2, "",
			"purview validate: want one CONFIG argument, got 2: [\"a.toml\" \"b.toml\"]\nusage: purview validate CONFIG [--offline]\nRun 'purview help validate' for details.\n"},
		{"bad flag", []string{"run", "--bogus", "x.toml"}, 2, "", "purview run: unknown flag --bogus\n…"},
		{"bad flag value", []string{"run", "x.toml", "--workers", "many"}, 2, "",
			"purview run: invalid value \"many\" for flag -workers: parse error\n…"},
		{"negative workers", []string{"run", "x.toml", "--workers=-3"}, 2, "", "purview run: --workers must be ≥ 0, got -3\n…"},
		{"bad list", []string{"list", "weights"}, 2, "", "purview list: unknown list \"weights\": want one of detectors, datasets, attacks, corruptions, models\n…"},
		{"run: missing config file", []string{"run", missing}, 1, "",
			"purview: open " + missing + ": no such file or directory\n"},
		{"run: bad config", []string{"run", bad, "--out", dir}, 1, "",
			"purview: " + bad + ":3: unknown key \"evaluate.smaples\" (did you mean \"evaluate.samples\"?)\n"},
		{"validate: missing config file", []string{"validate", missing}, 1, "",
			"purview: open " + missing + ": no such file or directory\n"},
		{"validate: bad config shows the line", []string{"validate", bad}, 1, "",
			"purview: " + bad + ":3: unknown key \"evaluate.smaples\" (did you mean \"evaluate.samples\"?)\n\n" +
				"      1 | [evaluate]\n      2 | folds = 1\n      3 | smaples = 3\n          ^^^^^^^\n…"},
		{"validate: the demo configuration", []string{"validate", "../../configs/mnist.toml"}, 0,
			"../../configs/mnist.toml: OK: run \"mnist\" trains the model with [train]; ood protocol, 4 datasets, 3 anomaly sets, 7 detectors\n", ""},
		{"list detectors", []string{"list", "detectors"}, 0, "Detector types:\n\n  bu\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.HasSuffix(c.name, "demo configuration") {
				// validate reads every set; `make test` installs this package.
				if _, err := os.Stat(datasets.FashionMNISTDir); err != nil {
					t.Skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
				}
			}
			var stdout, stderr bytes.Buffer
			status := run(c.args, &stdout, &stderr)
			if status != c.status {
				t.Errorf("status %d, want %d (stderr %q)", status, c.status, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), c.stdout) || (c.stdout == "" && stdout.Len() > 0) {
				t.Errorf("stdout\n%q\nwant prefix\n%q", stdout.String(), c.stdout)
			}
			if prefix, ok := strings.CutSuffix(c.stderr, "…"); ok {
				if !strings.HasPrefix(stderr.String(), prefix) {
					t.Errorf("stderr\n%q\nwant prefix\n%q", stderr.String(), prefix)
				}
			} else if stderr.String() != c.stderr {
				t.Errorf("stderr\n%q\nwant\n%q", stderr.String(), c.stderr)
			}
		})
	}
}

func TestRunTakesFreshFlags(t *testing.T) {
	// Flag values of one invocation must not leak into the next.
	var out, errb bytes.Buffer
	run([]string{"run", "--workers", "-7", "x.toml"}, &out, &errb)
	errb.Reset()
	if status := run([]string{"run"}, &out, &errb); status != 2 || !strings.HasPrefix(errb.String(), "purview run: missing CONFIG argument") {
		t.Errorf("second invocation: status %d, stderr %q", status, errb.String())
	}
}

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args []string
		pos  string
		out  string
	}{
		{[]string{"a.toml"}, "a.toml", ""},
		{[]string{"a.toml", "--out", "d"}, "a.toml", "d"},
		{[]string{"-out=d", "a.toml", "b"}, "a.toml b", "d"},
		{[]string{"a", "--out", "d", "b", "--", "--out", "c"}, "a b --out c", "d"},
		{nil, "", ""},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		out := fs.String("out", "", "")
		pos, err := parseFlags(fs, c.args)
		if err != nil || strings.Join(pos, " ") != c.pos || *out != c.out {
			t.Errorf("parseFlags(%q) = %q, out %q, %v; want %q, out %q", c.args, pos, *out, err, c.pos, c.out)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aa bb cc dd", "  ", 8)
	if want := "  aa bb\n  cc dd\n"; got != want {
		t.Errorf("wrap = %q, want %q", got, want)
	}
}

// TestNewCommands exercises list, cache, corrupt and merge on small inputs.
func TestNewCommands(t *testing.T) {
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	cfg := filepath.Join(dir, "c.toml")
	os.WriteFile(cfg, []byte(`name = "c"
[model]
weights = "x.safetensors"
[datasets.mnist]
kind = "mnist"
[datasets.u]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = ["u"]
[[detector]]
type = "msp"
`), 0o644)
	sheet := filepath.Join(dir, "sheet.png")
	cases := []struct {
		name   string
		args   []string
		status int
		stdout string // prefix
		stderr string // prefix
	}{
		{"list attacks", []string{"list", "attacks"}, 0, "Attacks (pixel space [0,1]):\n", ""},
		{"list corruptions", []string{"list", "corruptions"}, 0, "Corruptions (severities 1–5; groups: all, cifar10-c, extra, mnist-c):\n\n  gaussian_noise", ""},
		{"list datasets", []string{"list", "datasets"}, 0, "Dataset kinds (data root $PURVIEW_DATA = ", ""},
		{"cache ls, empty", []string{"cache", "ls", "--cache", cacheDir}, 0, "KIND", ""},
		{"cache gc, empty", []string{"cache", "gc", "--cache", cacheDir, "--max-age", "7d", "--max-size", "1G"}, 0, "removed 0 items, 0 B\n", ""},
		{"cache bad verb", []string{"cache", "rm"}, 2, "", "purview cache: want ls or gc\n"},
		{"cache bad size", []string{"cache", "gc", "--cache", cacheDir, "--max-size", "lots"}, 2, "", "purview cache: --max-size: want a size like 500M or 20G, got \"lots\"\n"},
		{"cache bad age", []string{"cache", "gc", "--cache", cacheDir, "--max-age", "x"}, 2, "", "purview cache: --max-age: want a duration like 72h or 7d, got \"x\"\n"},
		{"corrupt needs preview", []string{"corrupt"}, 2, "", "purview corrupt: --preview is required"},
		{"corrupt bad name", []string{"corrupt", "--preview", "--corruptions", "fogg", "--out", sheet}, 2, "", "purview corrupt: --corruptions: unknown corruption \"fogg\""},
		{"corrupt preview", []string{"corrupt", "--preview", "--corruptions", "fog,mnist-c", "--out", sheet}, 0,
			"wrote " + sheet + ": 9 corruptions × severities 1–5 of sample 0 of mnist:test\n", ""},
		{"merge needs shards", []string{"merge", cfg}, 2, "", "purview merge: --shards N is required"},
		{"merge with missing shards", []string{"merge", cfg, "--shards", "2", "--out", dir}, 1, "",
			"purview: merge: shards [0 1] of 2 have no receipt for this configuration under " + filepath.Join(dir, ".shards", "c")},
		{"bad shard", []string{"run", cfg, "--shard", "3/2"}, 2, "", "purview run: --shard: "},
		{"bench bad model", []string{"bench", "--models", "vgg"}, 2, "", "purview bench: --models: unknown model \"vgg\""},
		{"list models", []string{"list", "models"}, 0, "Architectures (model.arch; trainable parameters for 10 classes):\n\n  lenet5           1×28×28        61,706 parameters\n", ""},
		{"export needs --out", []string{"export", cfg}, 2, "", "purview export: --out FILE is required\n"},
		{"export: missing weights", []string{"export", cfg, "--out", filepath.Join(dir, "x.safetensors")}, 1, "", "purview: " + cfg + ":3: model.weights: models: checkpoint: open x.safetensors: no such file or directory\n"},
		{"validate offline", []string{"validate", "--offline", "../../configs/cifar10.toml"}, 0,
			"../../configs/cifar10.toml: OK (offline: data not read): run \"cifar10\" trains the model with [train]; ood protocol, 5 datasets, 4 anomaly sets, 8 detectors\n", ""},
		{"validate offline, a paper protocol", []string{"validate", "--offline", "../../configs/paper/cifar10_resnet34_adversarial.toml"}, 0,
			"../../configs/paper/cifar10_resnet34_adversarial.toml: OK (offline: data not read): run \"cifar10_resnet34_adversarial\" loads weights/resnet34_cifar10.safetensors; adversarial protocol, 1 dataset, 5 attacks, 8 detectors; reports the paper's adversarial claim\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(c.args, &stdout, &stderr)
			if status != c.status {
				t.Errorf("status %d, want %d (stderr %q)", status, c.status, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), c.stdout) {
				t.Errorf("stdout\n%q\nwant prefix\n%q", stdout.String(), c.stdout)
			}
			if !strings.HasPrefix(stderr.String(), c.stderr) || (c.stderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr\n%q\nwant prefix\n%q", stderr.String(), c.stderr)
			}
		})
	}
	if b, err := os.ReadFile(sheet); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("contact sheet: %v", err)
	}
}

// TestExport writes the model of a configuration with weights and reads it
// back: the same tensors and the normalisation in the metadata.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	net, err := models.New(models.Spec{Arch: "lenet5", Classes: 10, Seed: 5, Mean: []float64{0.1307}, Std: []float64{0.3081}})
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.safetensors")
	if err := models.SaveCheckpoint(in, net); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "e.toml")
	os.WriteFile(cfg, []byte(`[model]
weights = "`+in+`"
[datasets.mnist]
kind = "mnist"
[datasets.u]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = ["u"]
[[detector]]
type = "msp"
`), 0o644)
	out := filepath.Join(dir, "out.safetensors")
	var stdout, stderr bytes.Buffer
	if status := run([]string{"export", cfg, "--out", out}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	if want := "wrote " + out + ": lenet5, 10 classes, normalisation mean [0.1307] std [0.3081]; weights from " + in + "\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	ps, meta, err := models.ReadCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	if meta["arch"] != "lenet5" || meta["classes"] != "10" || meta["mean"] != "[0.1307]" || meta["std"] != "[0.3081]" {
		t.Errorf("metadata %v", meta)
	}
	want, _, _ := models.ReadCheckpoint(in)
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("exported tensors differ from the weights they were loaded from")
	}
}
