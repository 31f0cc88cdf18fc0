package run

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Progress prints run progress: on a terminal one bar redrawn in place with the runner's
// ETA, otherwise one plain line per trial.
type Progress struct {
	w    io.Writer
	tty  bool
	spec string
	mu   sync.Mutex
}

// NewProgress writes to w; fd is w's file descriptor (to tell a terminal), or -1.
func NewProgress(w io.Writer, fd int, spec string) *Progress {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return &Progress{w: w, tty: fd >= 0 && err == nil, spec: spec}
}

// Event reports one trial.
func (p *Progress) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	status := "ok"
	switch {
	case e.ReusedFrom != "":
		status = "reused (measured as " + e.ReusedFrom + ")"
	case e.Skipped:
		status = "skipped (finished before)"
	case e.Err != nil:
		status = "FAILED: " + e.Err.Error()
	}
	eta := "?"
	if e.ETA > 0 || e.Done == e.Total {
		eta = e.ETA.Round(time.Second).String()
	}
	if !p.tty {
		fmt.Fprintf(p.w, "%s %d/%d %s %.1fs %s (ETA %s)\n", p.spec, e.Done, e.Total, e.Trial.ID, e.Took.Seconds(), status, eta)
		return
	}
	const width = 30
	filled := width * e.Done / max(e.Total, 1)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	fmt.Fprintf(p.w, "\r\033[K%s [%s] %d/%d ETA %s  %s", p.spec, bar, e.Done, e.Total, eta, e.Trial.ID)
	if e.Err != nil {
		fmt.Fprintf(p.w, "\n%s: %s\n", e.Trial.ID, status)
	}
	if e.Done == e.Total {
		fmt.Fprintln(p.w)
	}
}
