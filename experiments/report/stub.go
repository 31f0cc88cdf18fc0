// Package report is a stand-in for the analysis helper's report writer (summary.csv,
// figures, report.md with trend checks) so the runner builds before it lands. DELETE this
// file when experiments/report arrives on main.
package report

import (
	"fmt"
	"io"

	"github.com/faaslab/faaslab/experiments/record"
)

// Summary is what Write found.
type Summary struct {
	Spec   string
	Dir    string
	Checks []Check
}

// Check is one trend check.
type Check struct {
	Name      string
	Pass      bool
	Detail    string
	Explained string
}

// Failed counts failing checks.
func (s Summary) Failed() int {
	n := 0
	for _, c := range s.Checks {
		if !c.Pass {
			n++
		}
	}
	return n
}

// Write writes nothing yet: the real writer comes with experiments/report.
func Write(run *record.Run, dir string) (Summary, error) {
	return Summary{Spec: run.Manifest.Spec, Dir: dir}, nil
}

// PrintChecks prints every check and returns how many failed.
func PrintChecks(w io.Writer, sums []Summary) int {
	failed := 0
	for _, s := range sums {
		for _, c := range s.Checks {
			fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", s.Spec, c.Name, c.Pass, c.Detail)
		}
		failed += s.Failed()
	}
	return failed
}
