package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/target"
)

// TestExecuteAllCarriesOnPastAFailedSpec: a spec that cannot run is listed as a problem
// with its --resume, the next spec still runs and gets its report; a cancelled command
// stops at once and names the run to resume.
func TestExecuteAllCarriesOnPastAFailedSpec(t *testing.T) {
	spec := mustSpec(t, "name: a\nworkload: iperf3-down\ncolocation: [1]\niperf_seconds: 3\n")
	out := t.TempDir()
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	broken, err := NewJob(spec, false, out, now)
	if err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(out, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	broken.Dir = filepath.Join(blocker, "run") // under a file: cannot be created
	good, err := NewJob(spec, false, out, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	fleet := &target.FakeFleet{HostsList: []target.Host{target.NewFake("fake", time.Millisecond)}}
	var started []string
	sums, problems, err := ExecuteAll(context.Background(), []Job{broken, good}, fleet, true, func(j Job) func(Event) {
		started = append(started, j.Dir)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "--resume "+broken.Dir) {
		t.Errorf("problems %q: want the broken spec's, naming its --resume", problems)
	}
	if len(sums) != 1 || sums[0].Dir != good.Dir {
		t.Errorf("summaries %+v: want the second spec's report", sums)
	}
	if _, err := os.Stat(filepath.Join(good.Dir, "report.md")); err != nil {
		t.Errorf("second spec's report: %v", err)
	}
	if len(started) != 2 {
		t.Errorf("progress asked for %d jobs, want 2", len(started))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	again, err := NewJob(spec, false, out, now.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ExecuteAll(ctx, []Job{again, good}, fleet, true, nil); err == nil || !strings.Contains(err.Error(), "--resume "+again.Dir) {
		t.Errorf("cancelled: %v, want an error naming --resume %s", err, again.Dir)
	}
}
