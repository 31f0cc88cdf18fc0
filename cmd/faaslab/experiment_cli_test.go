package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyRun copies a recorded run directory (the analysis fixtures) so the report writes
// into a temp dir.
func copyRun(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "experiments", "analyze", "testdata", "runs", name)
	if _, err := os.Stat(src); err != nil && os.Getenv("FAASLAB_VM") == "1" {
		t.Skipf("the VM carries only this package's testdata, not %s", src)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// `experiment report` redraws a recorded run without running anything: the report, its
// figures and the checks table come back from the files alone.
func TestExperimentReportRedrawsFromFiles(t *testing.T) {
	dir := copyRun(t, "fig5")
	out, err := runCLI(t, "experiment", "report", dir)
	if err != nil {
		t.Fatalf("experiment report: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Trend checks") || !strings.Contains(out, "fig5") {
		t.Errorf("no checks table:\n%s", out)
	}
	for _, f := range []string{"report.md", "summary.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if _, err := runCLI(t, "experiment", "report", t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("report of an empty directory: %v", err)
	}
}

func TestExperimentCompareSetsRunsSideBySide(t *testing.T) {
	a, b := copyRun(t, "fig5"), copyRun(t, "policies")
	out, err := runCLI(t, "experiment", "compare", a, b)
	if err != nil {
		t.Fatalf("experiment compare: %v\n%s", err, out)
	}
	if !strings.Contains(out, "fig5") || !strings.Contains(out, "policies") {
		t.Errorf("compare does not name both runs:\n%s", out)
	}
}
