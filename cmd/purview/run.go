package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/purview-lab/purview/experiments"
)

func newRunCommand(e *env) *Command {
	cmd := &Command{
		Name:      "run",
		UsageLine: "purview run CONFIG [--out DIR] [--workers N]",
		Short:     "run the experiment a configuration describes",
		Long: `
Run loads the experiment configuration CONFIG (a TOML file, see
configs/mnist.toml), trains or loads the model, scores every set with every
detector and writes tables, figures and a manifest to OUT/NAME, where NAME is
the configuration's name. Trained models are cached (model.cache), so
running a configuration again, or after Ctrl-C, skips the training it
already finished.

The results are the same whatever the number of workers.
`,
		Flag: flag.NewFlagSet("run", flag.ContinueOnError),
	}
	out := cmd.Flag.String("out", "", "output root `DIR`, overriding the configuration's out")
	workers := cmd.Flag.Int("workers", -1, "number of scoring workers `N` (0 = one per CPU), overriding the configuration's workers")
	cmd.Run = func(args []string) error {
		if len(args) != 1 {
			return argCount(args, "CONFIG")
		}
		opts := experiments.RunOptions{Out: *out, Stdout: e.stdout, Stderr: e.stderr}
		switch {
		case *workers == 0:
			opts.Workers = runtime.NumCPU()
		case *workers > 0:
			opts.Workers = *workers
		case *workers < -1:
			return usagef("--workers must be ≥ 0, got %d", *workers)
		}
		cfg, err := experiments.Load(args[0])
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = experiments.Run(ctx, cfg, opts)
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; run the same command again (a model that finished training is reused from %s)", cfg.Model.Cache)
		}
		return err
	}
	return cmd
}

// argCount is the usage error for a command that takes exactly one argument.
func argCount(args []string, what string) error {
	if len(args) == 0 {
		return usagef("missing %s argument", what)
	}
	return usagef("want one %s argument, got %d: %q", what, len(args), args)
}
