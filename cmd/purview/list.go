package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/purview-lab/purview/attacks"
	"github.com/purview-lab/purview/corruptions"
	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
)

var listWhats = []string{"detectors", "datasets", "attacks", "corruptions"}

func newListCommand(e *env) *Command {
	cmd := &Command{
		Name:      "list",
		UsageLine: "purview list [detectors|datasets|attacks|corruptions]",
		Short:     "list detector types, dataset kinds, attacks and corruptions",
		Long: `
List prints what a configuration can name, with what each does and takes:
detector types (type in a [[detector]] table), dataset kinds (kind in a
[datasets.KEY] table; for each, where its files are by default and whether
they were found on this machine), attacks and their presets (type in an
[[attack]] table) and corruptions (corruption.corruptions). Without an
argument it lists all four.
`,
		Flag: flag.NewFlagSet("list", flag.ContinueOnError),
	}
	cmd.Run = func(args []string) error {
		whats := listWhats
		switch {
		case len(args) > 1:
			return usagef("want at most one argument, got %d", len(args))
		case len(args) == 1:
			if !slices.Contains(listWhats, args[0]) {
				return usagef("unknown list %q: want one of %s", args[0], strings.Join(listWhats, ", "))
			}
			whats = args[:1]
		}
		for i, what := range whats {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			switch what {
			case "detectors":
				listDetectors(e.stdout)
			case "datasets":
				listDatasets(e.stdout)
			case "attacks":
				listAttacks(e.stdout)
			case "corruptions":
				listCorruptions(e.stdout)
			}
		}
		return nil
	}
	return cmd
}

func listDetectors(w io.Writer) {
	fmt.Fprintln(w, "Detector types:")
	for _, t := range detectors.Types() {
		fmt.Fprintf(w, "\n  %s\n%s", t, wrap(detectors.Doc(t), "      ", 80))
	}
}

func listDatasets(w io.Writer) {
	fmt.Fprintf(w, "Dataset kinds (data root $%s = %s):\n", datasets.DataRootEnv, datasets.DataRoot())
	for _, st := range datasets.Status() {
		fmt.Fprintf(w, "\n  %s\n%s", st.Kind, wrap(datasets.Doc(st.Kind), "      ", 80))
		switch {
		case st.Path == "generated":
			fmt.Fprintf(w, "      data: generated\n")
		case st.Path == "":
			fmt.Fprintf(w, "      data: no default location; %s\n", st.Needs)
		case st.Found:
			fmt.Fprintf(w, "      data: found: %s\n", st.Path)
		default:
			fmt.Fprintf(w, "      data: missing: %s\n", st.Path)
		}
	}
}

func listAttacks(w io.Writer) {
	fmt.Fprintln(w, "Attacks (pixel space [0,1]):")
	for _, n := range attacks.Names() {
		fmt.Fprintf(w, "\n  %s\n%s", n, wrap(attacks.Doc(n), "      ", 80))
	}
	fmt.Fprintln(w, "\nPresets (type = the preset's name; keys given in the table override its values):")
	for _, p := range attacks.Presets() {
		fmt.Fprintf(w, "\n  %s\n%s", p.Name, wrap(p.Doc(), "      ", 80))
	}
}

func listCorruptions(w io.Writer) {
	fmt.Fprintln(w, "Corruptions (severities 1–5; groups: all, cifar10-c, extra, mnist-c):")
	for _, c := range corruptions.All() {
		fmt.Fprintf(w, "\n  %s (%s, %s)\n%s", c.Name, c.Source, c.Group, wrap(c.Summary, "      ", 80))
	}
}

// wrap fills text into lines of at most width columns (longer words stay
// whole), each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	if line != indent {
		b.WriteString(line + "\n")
	}
	return b.String()
}
