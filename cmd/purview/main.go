// Purview runs gradient-based anomaly-detection experiments described by TOML
// files. It is a thin shell over package experiments.
//
// Usage:
//
//	purview <command> [arguments]
//
// Run 'purview help' for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"
)

// A Command is one purview subcommand, in the manner of cmd/go's
// base.Command: plain data and a Run function, no framework. The command tree
// is flat; subcommands of subcommands are best avoided.
type Command struct {
	Name      string        // "run"
	UsageLine string        // "purview run CONFIG [--out DIR] [--workers N]"
	Short     string        // one line for 'purview help'
	Long      string        // the text of 'purview help <command>'
	Flag      *flag.FlagSet // the command's own flags
	// Run runs the command with the arguments left after the flags. A
	// *usageError means misuse (exit 2); any other error a failed run (exit 1).
	Run func(args []string) error
}

// env is what commands write to and stop on. Commands are built afresh for
// each invocation of run, so flag values never leak between invocations.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
}

// commands returns the commands in the order 'purview help' lists them.
func commands(e *env) []*Command {
	return []*Command{
		newRunCommand(e),
		newMergeCommand(e),
		newValidateCommand(e),
		newListCommand(e),
		newExportCommand(e),
		newCacheCommand(e),
		newCorruptCommand(e),
		newBenchCommand(e),
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program: it runs the command named by args[0] and returns
// the exit status: 0 success, 1 the command failed, 2 misuse.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		// A panic is a bug; report it in one line rather than a stack trace.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "purview: internal error: %s\n", oneLine(fmt.Sprint(r)))
			status = 1
		}
	}()
	e := &env{ctx: context.Background(), stdout: stdout, stderr: stderr}
	cmds := commands(e)
	if len(args) == 0 {
		printUsage(stderr, cmds)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(stdout, stderr, cmds, args[1:])
	}
	cmd := lookup(cmds, args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "purview %s: unknown command\nRun 'purview help' for usage.\n", args[0])
		return 2
	}
	rest, err := parseFlags(cmd.Flag, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, cmd)
		return 0
	}
	if err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
			msg = "unknown flag -" + name // the flag package drops one dash of --name
		}
		return usageFailed(stderr, cmd, msg)
	}
	err = cmd.Run(rest)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return usageFailed(stderr, cmd, ue.msg)
	case errors.Is(err, errReported):
		return 1
	}
	fmt.Fprintf(stderr, "purview: %s\n", oneLine(err.Error()))
	return 1
}

func lookup(cmds []*Command, name string) *Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// usageError reports misuse of a command: wrong arguments.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errReported is returned by a command that has already written its error
// to stderr; run exits 1 without printing more.
var errReported = errors.New("error already reported")

func usageFailed(w io.Writer, cmd *Command, msg string) int {
	fmt.Fprintf(w, "purview %s: %s\nusage: %s\nRun 'purview help %s' for details.\n", cmd.Name, msg, cmd.UsageLine, cmd.Name)
	return 2
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// parseFlags parses fs from args, allowing flags after positional arguments
// ("purview run configs/mnist.toml --out x"), which the flag package alone
// does not. Arguments after "--" are all positional. The flag package's own
// messages are suppressed; the caller reports the error.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

var usageTemplate = template.Must(template.New("usage").Parse(`Purview runs gradient-based anomaly-detection experiments described by TOML files.

Usage:

	purview <command> [arguments]

The commands are:
{{range .}}
	{{printf "%-10s" .Name}} {{.Short}}{{end}}

Use "purview help <command>" for more information about a command.
`))

func printUsage(w io.Writer, cmds []*Command) {
	if err := usageTemplate.Execute(w, cmds); err != nil {
		panic(err) // the template is constant and cmds are plain data
	}
}
