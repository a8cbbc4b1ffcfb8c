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
	w     io.Writer
	label string
	total int
	start time.Time
	mu    sync.Mutex
	done  int
	bar   *mpb.Bar
	p     *mpb.Progress
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Start begins a task of total steps. On a terminal it draws a bar on w; on
// anything else (a log, CI) it prints nothing until Done's one line.
func Start(w io.Writer, label string, total int) *Task {
	t := &Task{w: w, label: label, total: max(total, 1), start: time.Now()}
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
