package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/purview-lab/purview/experiments"
	"github.com/purview-lab/purview/internal/cache"
)

func newCacheCommand(e *env) *Command {
	cmd := &Command{
		Name:      "cache",
		UsageLine: "purview cache ls|gc [--cache DIR] [--max-age D] [--unused-for D] [--max-size SIZE] [--verify] [--dry-run]",
		Short:     "list or clean the cache",
		Long: `
'purview cache ls' lists the entries of the cache (trained models,
adversarial examples, blocks of per-sample model quantities): kind, key,
size, when created and last used, and what produced them.

'purview cache gc' removes entries created more than --max-age ago or unused
for --unused-for, then the least recently used until the rest fit in
--max-size (e.g. 20G, 500M), plus corrupt entries and the debris of killed
processes. --verify also checks every file's checksum (reads everything);
--dry-run only reports. Durations as Go writes them: 72h, 30m; "d" for days
is accepted too (7d).
`,
		Flag: flag.NewFlagSet("cache", flag.ContinueOnError),
	}
	dir := cmd.Flag.String("cache", experiments.DefaultCache, "cache `DIR`")
	maxAge := cmd.Flag.String("max-age", "", "gc: remove entries created longer ago than `D`")
	unused := cmd.Flag.String("unused-for", "", "gc: remove entries unused for longer than `D`")
	maxSize := cmd.Flag.String("max-size", "", "gc: then remove least recently used entries until the cache fits in `SIZE`")
	verify := cmd.Flag.Bool("verify", false, "gc: check every file's checksum too")
	dry := cmd.Flag.Bool("dry-run", false, "gc: report what would be removed, remove nothing")
	cmd.Run = func(args []string) error {
		if len(args) != 1 || (args[0] != "ls" && args[0] != "gc") {
			return usagef("want ls or gc")
		}
		store, err := cache.Open(*dir)
		if err != nil {
			return err
		}
		if args[0] == "ls" {
			infos, err := store.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tKEY\tSIZE\tCREATED\tLAST USED\tDESCRIPTION")
			var total int64
			for _, in := range infos {
				desc := in.Description
				if in.Problem != "" {
					desc = "CORRUPT: " + in.Problem
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Kind, in.Key[:12], byteSize(in.Size),
					in.Created.Local().Format("2006-01-02 15:04"), in.LastUsed.Local().Format("2006-01-02 15:04"), desc)
				total += in.Size
			}
			tw.Flush()
			fmt.Fprintf(e.stdout, "%d entries, %s in %s\n", len(infos), byteSize(total), store.Dir())
			return nil
		}
		var p cache.Policy
		if p.MaxAge, err = parseDays("--max-age", *maxAge); err != nil {
			return err
		}
		if p.MaxUnused, err = parseDays("--unused-for", *unused); err != nil {
			return err
		}
		if *maxSize != "" {
			if p.MaxBytes, err = parseSize(*maxSize); err != nil {
				return usagef("--max-size: %v", err)
			}
		}
		p.Verify, p.DryRun = *verify, *dry
		res, err := store.GC(p)
		if err != nil {
			return err
		}
		verb := "removed"
		if p.DryRun {
			verb = "would remove"
		}
		for _, r := range res.Removed {
			what := r.Path
			if r.Kind != "" {
				what = r.Kind + " " + r.Key[:12]
			}
			fmt.Fprintf(e.stdout, "%s %s (%s): %s\n", verb, what, byteSize(r.Bytes), r.Reason)
		}
		fmt.Fprintf(e.stdout, "%s %d items, %s\n", verb, len(res.Removed), byteSize(res.Freed))
		return nil
	}
	return cmd
}

// parseDays parses a Go duration, also accepting a whole number of days ("7d").
func parseDays(flagName, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, usagef("%s: want a duration like 72h or 7d, got %q", flagName, s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, usagef("%s: want a duration like 72h or 7d, got %q", flagName, s)
	}
	return v, nil
}

// parseSize parses "1234", "500K", "20M", "3G" or "1T" (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		switch strings.ToUpper(s[n-1:]) {
		case "K":
			mult, num = 1<<10, s[:n-1]
		case "M":
			mult, num = 1<<20, s[:n-1]
		case "G":
			mult, num = 1<<30, s[:n-1]
		case "T":
			mult, num = 1<<40, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("want a size like 500M or 20G, got %q", s)
	}
	return v * mult, nil
}

// byteSize formats n bytes for people: "512 B", "3.4 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
