package run

import (
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/specs"
)

func TestJobsFromArguments(t *testing.T) {
	out := t.TempDir()
	jobs, err := Jobs([]string{"all"}, "", true, out, time.Unix(0, 0))
	if err != nil || len(jobs) != len(specs.Names()) {
		t.Fatalf("all: %d jobs, %v; want one per built-in spec (%d)", len(jobs), err, len(specs.Names()))
	}
	if _, err := Jobs(nil, "", false, out, time.Now()); err == nil || !strings.Contains(err.Error(), "fig5") {
		t.Errorf("no spec: %v, want the built-in names listed", err)
	}
	if _, err := Jobs([]string{"fig5"}, "results/fig5/x", false, out, time.Now()); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("--resume with a spec: %v", err)
	}
	if _, err := Jobs([]string{"nope.yaml"}, "", false, out, time.Now()); err == nil {
		t.Error("a missing spec file was accepted")
	}
}
