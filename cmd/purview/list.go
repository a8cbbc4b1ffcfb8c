package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
)

func newListCommand(e *env) *Command {
	cmd := &Command{
		Name:      "list",
		UsageLine: "purview list [detectors|datasets]",
		Short:     "list detector types and dataset kinds",
		Long: `
List prints the registered detector types (the values of type in a
[[detector]] table) and dataset kinds (the values of kind in a [datasets.KEY]
table) with what they do and take. For each dataset kind it also says where
its files are, with its default parameters, and whether they were found.
`,
		Flag: flag.NewFlagSet("list", flag.ContinueOnError),
	}
	cmd.Run = func(args []string) error {
		what := ""
		switch {
		case len(args) > 1:
			return usagef("want at most one argument, got %d", len(args))
		case len(args) == 1:
			what = args[0]
			if what != "detectors" && what != "datasets" {
				return usagef("unknown list %q: want detectors or datasets", what)
			}
		}
		if what != "datasets" {
			listDetectors(e.stdout)
		}
		if what == "" {
			fmt.Fprintln(e.stdout)
		}
		if what != "detectors" {
			listDatasets(e.stdout)
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
	fmt.Fprintln(w, "Dataset kinds:")
	for _, k := range datasets.Kinds() {
		fmt.Fprintf(w, "\n  %s\n%s", k, wrap(datasets.Doc(k), "      ", 80))
		src, err := datasets.New(k, nil)
		if err != nil {
			fmt.Fprintf(w, "      data: needs parameters (%s)\n", oneLine(err.Error()))
			continue
		}
		path, found := src.Where()
		state := "found"
		if !found {
			state = "missing"
		}
		if path == "" {
			path = "(no default location)"
		}
		fmt.Fprintf(w, "      data: %s: %s\n", state, path)
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
