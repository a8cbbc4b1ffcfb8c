package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/purview-lab/purview/attacks"
	"github.com/purview-lab/purview/corruptions"
	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
	"github.com/purview-lab/purview/models"
)

var listWhats = []string{"detectors", "datasets", "attacks", "corruptions", "models"}

func newListCommand(e *env) *Command {
	cmd := &Command{
		Name:      "list",
		UsageLine: "purview list [detectors|datasets|attacks|corruptions|models]",
		Short:     "list detector types, dataset kinds, attacks, corruptions and models",
		Long: `
List prints what a configuration can name, with what each does and takes:
detector types (type in a [[detector]] table), dataset kinds (kind in a
[datasets.KEY] table; for each, where its files are by default and whether
they were found on this machine), attacks and their presets (type in an
[[attack]] table), corruptions (corruption.corruptions), and models: the
architectures (model.arch) with their input shapes and trainable parameter
counts, and the name maps (model.name_map) that load published PyTorch
weights. Without an argument it lists all five.
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
			case "models":
				if err := listModels(e.stdout); err != nil {
					return err
				}
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

// listModels prints the architectures with their input shape and
// trainable parameter count (for 10 classes), and the name maps.
func listModels(w io.Writer) error {
	fmt.Fprintln(w, "Architectures (model.arch; trainable parameters for 10 classes):")
	fmt.Fprintln(w)
	for _, a := range models.Archs() {
		c, h, wd, err := models.InputShapeOf(a)
		if err != nil {
			return err
		}
		n, err := paramCount(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-16s %d×%d×%d  %12s parameters\n", a, c, h, wd, thousands(n))
	}
	fmt.Fprintln(w, "\n  Parameterised forms (3×32×32): resnet18-wN and resnet34-wN (base width N; 64 as published),")
	fmt.Fprintln(w, "  densenet-bc-D-K (depth D ≡ 4 mod 6, growth rate K; densenet100 = densenet-bc-100-12),")
	fmt.Fprintln(w, "  wrn-D-W (depth D ≡ 4 mod 6, widen factor W).")
	fmt.Fprintf(w, "\nName maps (model.name_map; %q, the default, uses the first that fits the file exactly):\n", models.NameMapAuto)
	for _, m := range models.NameMaps() {
		fam := "all architectures"
		if m.Families != nil {
			fam = "family " + strings.Join(m.Families, ", ")
		}
		fmt.Fprintf(w, "\n  %s (%s)\n%s", m.Name, fam, wrap(m.Doc, "      ", 80))
	}
	return nil
}

// paramCount is the number of trainable values of arch with 10 classes.
func paramCount(arch string) (int, error) {
	net, err := models.New(models.Spec{Arch: arch, Classes: 10})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range net.Params() {
		n += len(p.Data)
	}
	return n, nil
}

// thousands formats n with commas: 21,282,122.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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
