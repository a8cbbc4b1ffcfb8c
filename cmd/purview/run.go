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
	"github.com/purview-lab/purview/internal/cache"
)

// runFlags are the flags run and merge share.
type runFlags struct {
	out, cache string
	workers    int
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.out, "out", "", "output root `DIR`, overriding the configuration's out")
	fs.StringVar(&f.cache, "cache", "", "cache `DIR` for trained models, adversarial examples and per-sample model quantities, overriding model.cache")
	fs.IntVar(&f.workers, "workers", -1, "number of scoring workers `N` (0 = one per CPU), overriding the configuration's workers")
}

func (f *runFlags) options(e *env) (experiments.RunOptions, error) {
	opts := experiments.RunOptions{Out: f.out, Cache: f.cache, Stdout: e.stdout, Stderr: e.stderr}
	switch {
	case f.workers == 0:
		opts.Workers = runtime.NumCPU()
	case f.workers > 0:
		opts.Workers = f.workers
	case f.workers < -1:
		return opts, usagef("--workers must be ≥ 0, got %d", f.workers)
	}
	return opts, nil
}

// runConfig runs cfg until done or interrupted (Ctrl-C, SIGTERM).
func runConfig(e *env, cfg *experiments.Config, opts experiments.RunOptions) error {
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := experiments.Run(ctx, cfg, opts)
	if errors.Is(err, context.Canceled) {
		dir := opts.Cache
		if dir == "" {
			dir = cfg.Model.Cache
		}
		return fmt.Errorf("interrupted; run the same command again: training resumes from its last finished epoch, and the trained model and every finished block of work are reused from the cache %s", dir)
	}
	return err
}

func newRunCommand(e *env) *Command {
	cmd := &Command{
		Name:      "run",
		UsageLine: "purview run CONFIG [--out DIR] [--cache DIR] [--workers N] [--shard I/N]",
		Short:     "run the experiment a configuration describes",
		Long: `
Run loads the experiment configuration CONFIG (a TOML file, see
configs/mnist.toml), trains or loads the model, scores every set with every
detector and writes tables, figures and a manifest to OUT/NAME, where NAME is
the configuration's name.

Everything expensive is cached (model.cache, or --cache): the trained model,
adversarial examples and the per-sample model quantities (logits, purview
features, layer features) in blocks of 512 samples. Running a configuration
again, or after it was interrupted or killed, reuses what was finished —
training resumes from its last finished epoch — and gives byte-identical
results.

With a [paper] table the run also prints and writes (claims.md, claims.json)
the paper's headline claim for its protocol beside the measured one.

--shard I/N (0-based) computes only part I of N of the per-sample work into
the cache and leaves a receipt under OUT/.shards/NAME; when all N parts are
done, 'purview merge CONFIG --shards N' assembles the run. Without --shard,
the shard is taken from PURVIEW_SHARD=I/N, or from a Slurm job array
(SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with
PURVIEW_SHARD_COUNT), if set. See deploy/README.md.

The results are the same whatever the number of workers.
`,
		Flag: flag.NewFlagSet("run", flag.ContinueOnError),
	}
	var rf runFlags
	rf.register(cmd.Flag)
	shard := cmd.Flag.String("shard", "", "compute only shard `I/N` (0-based) of the per-sample work")
	cmd.Run = func(args []string) error {
		if len(args) != 1 {
			return argCount(args, "CONFIG")
		}
		opts, err := rf.options(e)
		if err != nil {
			return err
		}
		if *shard != "" {
			if opts.Shard, err = experiments.ParseShard(*shard); err != nil {
				return usagef("--shard: %v", err)
			}
		} else if i, n, ok, err := cache.ShardFromEnv(os.Getenv); err != nil {
			return err
		} else if ok {
			opts.Shard = experiments.Shard{I: i, N: n}
		}
		cfg, err := experiments.Load(args[0])
		if err != nil {
			return err
		}
		return runConfig(e, cfg, opts)
	}
	return cmd
}

func newMergeCommand(e *env) *Command {
	cmd := &Command{
		Name:      "merge",
		UsageLine: "purview merge CONFIG --shards N [--force] [--out DIR] [--cache DIR] [--workers N]",
		Short:     "assemble a run from its shards",
		Long: `
Merge checks that every shard 0..N-1 of CONFIG left its receipt (run with
--shard I/N, same --out), then runs the configuration with the shards'
cache: the per-sample work they computed is read back, what depends on all
samples (fitting, cross-validation, metrics, figures) is done now. The run
directory is byte-identical to an unsharded run's. --force merges even when
receipts are missing; the missing work is then computed here.
`,
		Flag: flag.NewFlagSet("merge", flag.ContinueOnError),
	}
	var rf runFlags
	rf.register(cmd.Flag)
	shards := cmd.Flag.Int("shards", 0, "number of shards `N` the run was split into")
	force := cmd.Flag.Bool("force", false, "merge even if some shards left no receipt")
	cmd.Run = func(args []string) error {
		if len(args) != 1 {
			return argCount(args, "CONFIG")
		}
		if *shards < 1 {
			return usagef("--shards N is required (N ≥ 1)")
		}
		opts, err := rf.options(e)
		if err != nil {
			return err
		}
		cfg, err := experiments.Load(args[0])
		if err != nil {
			return err
		}
		if err := experiments.CheckShards(cfg, opts.Out, *shards); err != nil {
			if !*force {
				return err
			}
			fmt.Fprintf(e.stderr, "purview: %v; merging anyway (--force)\n", err)
		}
		return runConfig(e, cfg, opts)
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
