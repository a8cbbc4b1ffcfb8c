// Package progress reports the progress of long work: a live bar when the
// output is a terminal, plain lines otherwise (logs, CI), never both.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Task is one unit of long work with a known number of steps.
type Task struct {
	w       io.Writer
	label   string
	total   int
	start   time.Time
	mu      sync.Mutex
	done    int
	nextPct int // plain mode: next percentage at which to print a line
	bar     *mpb.Bar
	p       *mpb.Progress
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Start begins a task of total steps. On a terminal it draws a bar on w; on
// anything else it prints a line at 25 %, 50 % and 75 % when the task takes
// long enough to matter, and nothing else until Done.
func Start(w io.Writer, label string, total int) *Task {
	t := &Task{w: w, label: label, total: max(total, 1), start: time.Now(), nextPct: 25}
	if w != nil && IsTerminal(w) {
		t.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
		t.bar = t.p.AddBar(int64(t.total),
			mpb.PrependDecorators(decor.Name(label+" "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Percentage(), decor.Name(" "), decor.AverageETA(decor.ET_STYLE_GO)),
		)
	}
	return t
}

// Add records n finished steps.
func (t *Task) Add(n int) {
	if t == nil || t.w == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += n
	if t.bar != nil {
		t.bar.IncrBy(n)
		return
	}
	pct := 100 * t.done / t.total
	if pct >= t.nextPct && pct < 100 && time.Since(t.start) > 5*time.Second {
		fmt.Fprintf(t.w, "%s: %d%% (%d/%d) %s\n", t.label, pct, t.done, t.total, time.Since(t.start).Round(time.Second))
	}
	for pct >= t.nextPct {
		t.nextPct += 25
	}
}

// Done ends the task and prints one summary line.
func (t *Task) Done(summary string) {
	if t == nil || t.w == nil {
		return
	}
	if t.bar != nil {
		t.bar.SetTotal(int64(t.total), true)
		t.p.Wait()
	}
	el := time.Since(t.start).Seconds()
	if summary != "" {
		fmt.Fprintf(t.w, "%s: %s (%.1f s)\n", t.label, summary, el)
	} else {
		fmt.Fprintf(t.w, "%s: done (%.1f s)\n", t.label, el)
	}
}
