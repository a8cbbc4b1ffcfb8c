package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/purview-lab/purview/corruptions"
	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/experiments"
)

func newCorruptCommand(e *env) *Command {
	cmd := &Command{
		Name:      "corrupt",
		UsageLine: "purview corrupt --preview [CONFIG] [--out FILE] [--index I] [--corruptions a,b,...] [--seed S]",
		Short:     "draw a contact sheet of every corruption at every severity",
		Long: `
Corrupt --preview writes a contact sheet PNG: one row per corruption, the
clean image then severities 1–5 as columns, so a person can check that each
corruption looks right. The image is sample --index of the configuration's
in-distribution set (evaluate.in_dist, with the dataset's adapt steps), or
of the MNIST test set without CONFIG. --corruptions limits the rows (names
or the groups cifar10-c, extra, mnist-c; default all).

Corrupted sets themselves are made by runs with evaluate.protocol =
"corruption" (see configs/mnist_corruption.toml).
`,
		Flag: flag.NewFlagSet("corrupt", flag.ContinueOnError),
	}
	preview := cmd.Flag.Bool("preview", false, "write the contact sheet")
	out := cmd.Flag.String("out", "corruptions.png", "contact sheet `FILE` (PNG)")
	index := cmd.Flag.Int("index", 0, "sample `I` of the set")
	names := cmd.Flag.String("corruptions", "all", "comma-separated corruption `names` or groups")
	seed := cmd.Flag.Uint64("seed", 1, "`seed` of the random corruptions")
	cmd.Run = func(args []string) error {
		if !*preview {
			return usagef("--preview is required (corrupted sets are made by runs with protocol \"corruption\")")
		}
		if len(args) > 1 {
			return usagef("want at most one CONFIG argument, got %d", len(args))
		}
		var set *datasets.Set
		var err error
		if len(args) == 1 {
			cfg, err := experiments.Load(args[0])
			if err != nil {
				return err
			}
			if set, err = experiments.InDistSet(cfg); err != nil {
				return err
			}
		} else {
			src, err := datasets.New("mnist", nil)
			if err != nil {
				return err
			}
			if set, err = src.Load(datasets.Request{Split: "test"}); err != nil {
				return err
			}
		}
		if *index < 0 || *index >= set.Len() {
			return usagef("--index %d out of range: %s has %d samples", *index, set.Name, set.Len())
		}
		rows, err := corruptionRows(*names)
		if err != nil {
			return usagef("--corruptions: %v", err)
		}
		if err := corruptions.WriteContactSheet(*out, set.Image(*index), set.C, set.H, set.W, rows, *seed); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s: %d corruptions × severities 1–5 of sample %d of %s\n", *out, len(rows), *index, set.Name)
		return nil
	}
	return cmd
}

// corruptionRows expands a comma-separated list of names and groups.
func corruptionRows(list string) ([]string, error) {
	var want []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want = append(want, n)
		}
	}
	return experiments.ExpandCorruptions(want)
}
