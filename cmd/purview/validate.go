package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
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
			err = checkTables(cfg)
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

// classes is the number of classes of every architecture experiments knows.
// TODO(lead): take it from the model once experiments exposes a full check.
const classes = 10

// checkTables builds every dataset source and detector of cfg, which decodes
// their tables strictly, without loading data or a model.
func checkTables(cfg *experiments.Config) error {
	for _, k := range cfg.DatasetOrder {
		d := cfg.Datasets[k]
		if _, err := datasets.New(d.Kind, d.Params); err != nil {
			return d.Params.WrapError(err)
		}
		if err := d.Params.CheckUsed(); err != nil {
			return err
		}
	}
	for _, d := range cfg.Detectors {
		if _, err := detectors.New(d.Type, detectors.Env{Classes: classes}, d.Params); err != nil {
			return d.Params.WrapError(err)
		}
		if err := d.Params.CheckUsed(); err != nil {
			return err
		}
	}
	return nil
}
