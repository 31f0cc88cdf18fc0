package run

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Progress prints run progress: on a terminal one bar redrawn in place with an ETA (from
// the mean time of the trials run so far), otherwise one plain line per trial.
type Progress struct {
	w       io.Writer
	tty     bool
	spec    string
	mu      sync.Mutex
	start   time.Time
	ran     int
	skipped int
}

// NewProgress writes to w; fd is w's file descriptor (to tell a terminal), or -1.
func NewProgress(w io.Writer, fd int, spec string) *Progress {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return &Progress{w: w, tty: fd >= 0 && err == nil, spec: spec, start: time.Now()}
}

// Event reports one trial.
func (p *Progress) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Skipped {
		p.skipped++
	} else {
		p.ran++
	}
	status := "ok"
	switch {
	case e.ReusedFrom != "":
		status = "reused (measured as " + e.ReusedFrom + ")"
	case e.Skipped:
		status = "skipped (finished before)"
	case e.Err != nil:
		status = "FAILED: " + e.Err.Error()
	}
	eta := p.eta(e)
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

// eta is the mean time of the trials run so far times the trials left.
func (p *Progress) eta(e Event) string {
	if p.ran == 0 {
		return "?"
	}
	per := time.Since(p.start) / time.Duration(p.ran)
	return (per * time.Duration(e.Total-e.Done)).Round(time.Second).String()
}
