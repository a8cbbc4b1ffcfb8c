package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/purview-lab/purview/experiments"
)

func newValidateCommand(e *env) *Command {
	cmd := &Command{
		Name:      "validate",
		UsageLine: "purview validate CONFIG",
		Short:     "check a configuration without running it",
		Long: `
Validate loads the experiment configuration CONFIG and checks it as run would
before starting: the schema (unknown keys are errors), every value, the
references between tables, and the parameters of every dataset and detector.
It prints OK, or the first error with the offending lines and a hint.
`,
		Flag: flag.NewFlagSet("validate", flag.ContinueOnError),
	}
	cmd.Run = func(args []string) error {
		if len(args) != 1 {
			return argCount(args, "CONFIG")
		}
		cfg, err := experiments.Load(args[0])
		if err == nil {
			err = experiments.Check(cfg)
		}
		var ce *experiments.ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintf(e.stderr, "purview: %s", ce.Detailed())
			return errReported
		}
		if err != nil {
			return err
		}
		what := "trains the model with [train]"
		if !cfg.TrainsModel() {
			what = "loads " + cfg.Model.Checkpoint
		}
		fmt.Fprintf(e.stdout, "%s: OK: run %q %s; %d datasets, %d anomaly sets, %d detectors\n",
			args[0], cfg.Name, what, len(cfg.Datasets), len(cfg.Evaluate.Anomalies), len(cfg.Detectors))
		return nil
	}
	return cmd
}
