package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/purview-lab/purview/datasets"
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
		{"help run", []string{"help", "run"}, 0, "usage: purview run CONFIG [--out DIR] [--workers N]\n\nRun loads", ""},
		{"run -h", []string{"run", "-h"}, 0, "usage: purview run CONFIG", ""},
		{"run --help after an argument", []string{"run", "x.toml", "--help"}, 0, "usage: purview run CONFIG", ""},
		{"no command", nil, 2, "", "Purview runs…"},
		{"unknown command", []string{"frobnicate"}, 2, "",
			"purview frobnicate: unknown command\nRun 'purview help' for usage.\n"},
		{"help on an unknown command", []string{"help", "frobnicate"}, 2, "",
			"purview help frobnicate: unknown command\nRun 'purview help' for usage.\n"},
		{"missing argument", []string{"run"}, 2, "",
			"purview run: missing CONFIG argument\nusage: purview run CONFIG [--out DIR] [--workers N]\nRun 'purview help run' for details.\n"},
		{"extra argument", []string{"validate", "a.toml", "b.toml"}, 2, "",
			"purview validate: want one CONFIG argument, got 2: [\"a.toml\" \"b.toml\"]\nusage: purview validate CONFIG\nRun 'purview help validate' for details.\n"},
		{"bad flag", []string{"run", "--bogus", "x.toml"}, 2, "", "purview run: unknown flag --bogus\n…"},
		{"bad flag value", []string{"run", "x.toml", "--workers", "many"}, 2, "",
			"purview run: invalid value \"many\" for flag -workers: parse error\n…"},
		{"negative workers", []string{"run", "x.toml", "--workers=-3"}, 2, "", "purview run: --workers must be ≥ 0, got -3\n…"},
		{"bad list", []string{"list", "models"}, 2, "", "purview list: unknown list \"models\": want detectors or datasets\n…"},
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
			"../../configs/mnist.toml: OK: run \"mnist\" trains the model with [train]; 4 datasets, 3 anomaly sets, 7 detectors\n", ""},
		{"list detectors", []string{"list", "detectors"}, 0, "Detector types:\n\n  energy\n", ""},
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
