package run

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/target"
)

// Two specs of one command that plan the same measurement (another name, another part):
// the second copies the first's records under its own trial ids and measures only what
// is new; a trial differing in one parameter is measured. Without a Measured, everything
// is measured again.
func TestLaterSpecReusesMeasuredTrials(t *testing.T) {
	first := mustSpec(t, "name: a\nworkload: iperf3-down\ncolocation: [1, 2]\niperf_seconds: 3\n")
	second := mustSpec(t, "name: b\nparts:\n  - name: p\n    workload: iperf3-down\n    colocation: [2, 4]\n    iperf_seconds: 3\n")
	out := t.TempDir()
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	jobA, err := NewJob(first, false, out, now)
	if err != nil {
		t.Fatal(err)
	}
	jobB, err := NewJob(second, false, out, now)
	if err != nil {
		t.Fatal(err)
	}
	fake := target.NewFake("fake", time.Millisecond)
	fleet := &target.FakeFleet{HostsList: []target.Host{fake}}
	measured := &Measured{}
	jobA.Measured, jobB.Measured = measured, measured
	runA, _, err := Execute(context.Background(), jobA, fleet, nil)
	if err != nil {
		t.Fatal(err)
	}
	starts := strings.Count(strings.Join(fake.Log, "\n"), "start ")
	var events []Event
	runB, sum, err := Execute(context.Background(), jobB, fleet, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	// N = 2 was measured by a; only N = 4 (4 transfers) runs now.
	if got := strings.Count(strings.Join(fake.Log, "\n"), "start ") - starts; got != 4 || sum.Ran != 1 || sum.Skipped != 1 {
		t.Errorf("second spec started %d transfers, summary %+v: want only N = 4's 4", got, sum)
	}
	n2 := jobB.Manifest.Trials[0].ID
	src, ok := runB.Manifest.Reused[n2]
	wantSrc := filepath.Join("a", jobA.Manifest.RunID) + " " + jobA.Manifest.Trials[1].ID
	if !ok || src != wantSrc || len(runB.Manifest.Reused) != 1 {
		t.Errorf("manifest reused %v: want %s → %s only", runB.Manifest.Reused, n2, wantSrc)
	}
	if len(events) != 2 || events[0].ReusedFrom != wantSrc {
		t.Errorf("progress events %+v: want the reused trial named with its source", events)
	}
	var copied, original int
	for _, inv := range runB.Invocations {
		if inv.TrialID == n2 {
			copied++
		}
	}
	for _, inv := range runA.Invocations {
		if inv.TrialID == jobA.Manifest.Trials[1].ID {
			original++
		}
	}
	if copied == 0 || copied != original {
		t.Errorf("%d invocations copied under %s, the source has %d", copied, n2, original)
	}
	if len(runB.Results) != 2 || !runB.Manifest.FinishedAt.After(time.Time{}) {
		t.Errorf("second run: %d results, finished %v", len(runB.Results), runB.Manifest.FinishedAt)
	}

	// Without a Measured the same job measures both points.
	jobC, _ := NewJob(second, false, t.TempDir(), now)
	starts = strings.Count(strings.Join(fake.Log, "\n"), "start ")
	if _, sum, err := Execute(context.Background(), jobC, fleet, nil); err != nil || sum.Ran != 2 {
		t.Fatalf("no reuse: %+v %v", sum, err)
	}
	if got := strings.Count(strings.Join(fake.Log, "\n"), "start ") - starts; got != 6 {
		t.Errorf("no reuse: %d transfers, want 2 + 4", got)
	}
}
