// Package probe is the shape of `faaslab doctor`'s answers: each package that depends on
// a host feature probes it itself and returns Checks; the CLI only prints them.
package probe

import (
	"fmt"
	"io"
	"os/exec"
)

// Check is one probed feature.
type Check struct {
	Name   string
	OK     bool
	Detail string // what was found, or what is missing and what needs it
}

// Section is a titled group of checks.
type Section struct {
	Title  string
	Notes  []string // free-form lines printed before the checks
	Checks []Check
}

// Print writes the sections as `faaslab doctor` shows them.
func Print(w io.Writer, sections ...Section) {
	for _, s := range sections {
		fmt.Fprintln(w, s.Title+":")
		for _, n := range s.Notes {
			fmt.Fprintln(w, "  "+n)
		}
		for _, c := range s.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "MISS"
			}
			fmt.Fprintf(w, "  [%s] %-28s %s\n", mark, c.Name, c.Detail)
		}
	}
}

// Tool checks that a program is on PATH, saying what it is needed for.
func Tool(name, why string) Check {
	p, err := exec.LookPath(name)
	if err != nil {
		return Check{Name: name, Detail: why}
	}
	return Check{Name: name, OK: true, Detail: p + ": " + why}
}
