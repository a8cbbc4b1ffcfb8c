package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
)

// help implements 'purview help [command]'.
func help(stdout, stderr io.Writer, cmds []*Command, args []string) int {
	switch len(args) {
	case 0:
		printUsage(stdout, cmds)
		return 0
	case 1:
		if cmd := lookup(cmds, args[0]); cmd != nil {
			printHelp(stdout, cmd)
			return 0
		}
		fmt.Fprintf(stderr, "purview help %s: unknown command\nRun 'purview help' for usage.\n", args[0])
		return 2
	}
	fmt.Fprintf(stderr, "usage: purview help [command]\n\nToo many arguments given.\n")
	return 2
}

// printHelp writes a command's usage line, long help and flags.
func printHelp(w io.Writer, cmd *Command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", cmd.UsageLine, strings.TrimSpace(cmd.Long))
	var flags bytes.Buffer
	cmd.Flag.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&flags, "\t--%s", f.Name)
		if name != "" {
			fmt.Fprintf(&flags, " %s", name)
		}
		fmt.Fprintf(&flags, "\n\t\t%s\n", usage)
	})
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
	}
}
