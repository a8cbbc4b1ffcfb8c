package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/purview-lab/purview/experiments"
	"github.com/purview-lab/purview/models"
)

func newExportCommand(e *env) *Command {
	cmd := &Command{
		Name:      "export",
		UsageLine: "purview export CONFIG --out FILE.safetensors [--cache DIR] [--workers N]",
		Short:     "write a configuration's model as a PyTorch-loadable safetensors file",
		Long: `
Export gets the model of the experiment configuration CONFIG as run would —
loaded from model.weights, read from the cache, or trained now with [train]
(and cached; an interrupted training resumes from its last finished epoch) —
and writes it to FILE as safetensors with PyTorch state_dict names and
layouts, and the architecture, class count and input normalisation in the
header metadata. In PyTorch:

	from safetensors import safe_open
	from safetensors.torch import load_file
	model.load_state_dict(load_file("FILE.safetensors"))
	meta = safe_open("FILE.safetensors", "pt").metadata()  # arch, classes, mean, std

(PyTorch fills in BatchNorm's num_batches_tracked, which the file omits.)
The normalisation is metadata, not a tensor: feed the PyTorch model
(x − mean)/std, as torchvision's Normalize does. The same file loads back
with model.weights = "FILE.safetensors".
`,
		Flag: flag.NewFlagSet("export", flag.ContinueOnError),
	}
	out := cmd.Flag.String("out", "", "write the weights to `FILE` (required)")
	cacheDir := cmd.Flag.String("cache", "", "cache `DIR` for trained models, overriding model.cache")
	workers := cmd.Flag.Int("workers", 0, "training workers `N` (0 = the configuration's workers)")
	cmd.Run = func(args []string) error {
		if len(args) != 1 {
			return argCount(args, "CONFIG")
		}
		if *out == "" {
			return usagef("--out FILE is required")
		}
		if *workers < 0 {
			return usagef("--workers must be ≥ 0, got %d", *workers)
		}
		cfg, err := experiments.Load(args[0])
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		net, sum, err := experiments.LoadModel(ctx, cfg, experiments.RunOptions{Cache: *cacheDir, Workers: *workers, Stderr: e.stderr})
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; run the same command again: training resumes from its last finished epoch")
		}
		if err != nil {
			return err
		}
		if err := models.SaveCheckpoint(*out, net); err != nil {
			return err
		}
		norm := "no input normalisation"
		if sum.Mean != nil {
			norm = fmt.Sprintf("normalisation mean %s std %s", floats(sum.Mean), floats(sum.Std))
		}
		fmt.Fprintf(e.stdout, "wrote %s: %s, %d classes, %s; weights from %s\n", *out, sum.Arch, sum.Classes, norm, sum.Weights)
		return nil
	}
	return cmd
}

// floats formats a list as TOML writes it: [0.4914, 0.4822, 0.4465].
func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
