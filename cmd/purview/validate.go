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
		UsageLine: "purview validate CONFIG [--offline]",
		Short:     "check a configuration without running it",
		Long: `
Validate loads the experiment configuration CONFIG and checks it as run would
before starting: the schema (unknown keys are errors), every value, the
references between tables, and the parameters of every dataset and detector.
It prints OK, or the first error with the offending lines and a hint.

--offline skips everything that reads data or weights: the tables are
still decoded strictly, for a configuration written on a machine without the
data.
`,
		Flag: flag.NewFlagSet("validate", flag.ContinueOnError),
	}
	offline := cmd.Flag.Bool("offline", false, "check the tables only, reading no data or weights")
	cmd.Run = func(args []string) error {
		if len(args) != 1 {
			return argCount(args, "CONFIG")
		}
		cfg, err := experiments.Load(args[0])
		if err == nil {
			if *offline {
				err = experiments.CheckOffline(cfg, 10)
			} else {
				err = experiments.Check(cfg)
			}
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
			what = "loads " + cfg.Model.Weights
		}
		var tasks string
		switch cfg.Evaluate.Protocol {
		case experiments.ProtocolOOD:
			tasks = plural(len(cfg.Evaluate.Anomalies), "anomaly set")
		case experiments.ProtocolAdversarial:
			tasks = plural(len(cfg.Attacks), "attack")
		case experiments.ProtocolCorruption:
			tasks = fmt.Sprintf("corruptions %v at severities %v", cfg.Corruption.Names, cfg.Corruption.Severities)
		}
		note := ""
		if *offline {
			note = " (offline: data not read)"
		}
		claim := ""
		if cfg.Paper != nil {
			claim = "; reports the paper's " + cfg.Paper.Claim + " claim"
		}
		fmt.Fprintf(e.stdout, "%s: OK%s: run %q %s; %s protocol, %s, %s, %s%s\n",
			args[0], note, cfg.Name, what, cfg.Evaluate.Protocol, plural(len(cfg.Datasets), "dataset"), tasks, plural(len(cfg.Detectors), "detector"), claim)
		return nil
	}
	return cmd
}

// plural returns "1 dataset" or "n datasets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
