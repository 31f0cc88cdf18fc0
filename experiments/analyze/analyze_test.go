package analyze_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/analyze"
	"github.com/faaslab/faaslab/experiments/internal/runfixture"
	"github.com/faaslab/faaslab/experiments/record"
)

var update = flag.Bool("update", false, "rewrite the golden files and recorded run directories in testdata/")

// fixture loads testdata/runs/<spec> (rewritten from the generator with -update), so the
// analysis runs on recorded files.
func fixture(t *testing.T, spec string, rate runfixture.Rate, name string) *record.Run {
	t.Helper()
	dir := filepath.Join("testdata", "runs", name)
	if *update {
		os.RemoveAll(dir)
		if err := runfixture.Write(dir, runfixture.Build(spec, runfixture.Plan(spec), rate)); err != nil {
			t.Fatal(err)
		}
	}
	run, err := record.Load(dir)
	if err != nil {
		t.Fatalf("%v (run go test -update to regenerate)", err)
	}
	return run
}

// generated writes a simulated run to a temporary directory and loads it back.
func generated(t *testing.T, spec string, rate runfixture.Rate) *record.Run {
	t.Helper()
	dir := t.TempDir()
	if err := runfixture.Write(dir, runfixture.Build(spec, runfixture.Plan(spec), rate)); err != nil {
		t.Fatal(err)
	}
	run, err := record.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func golden(t *testing.T, a *analyze.Analysis, name string) {
	t.Helper()
	header, rows := a.Table()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	w.WriteAll(rows)
	path := filepath.Join("testdata", name+".summary.csv")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("summary of %s differs from %s (go test -update rewrites it after review):\n%s", name, path, buf.String())
	}
}

func TestGoldenSummaries(t *testing.T) {
	for _, spec := range []string{"fig2", "fig3", "fig4", "fig6", "fig7", "today"} {
		t.Run(spec, func(t *testing.T) {
			a, err := analyze.Analyze(generated(t, spec, runfixture.Paper))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, a, spec)
		})
	}
	for _, spec := range []string{"fig5", "policies"} {
		t.Run(spec, func(t *testing.T) {
			a, err := analyze.Analyze(fixture(t, spec, runfixture.Paper, spec))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, a, spec)
		})
	}
}

func near(got, want, tol float64) bool { return math.Abs(got/want-1) <= tol }

// The recorded fig5 run: a fair 560 Mbit/s NIC shared by N iperf3 clients for 1.5 s.
func TestFig5CountersSeeTheSharedNIC(t *testing.T) {
	a, err := analyze.Analyze(fixture(t, "fig5", runfixture.Paper, "fig5"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Points) != 4 {
		t.Fatalf("%d points, want 4 (N = 1, 2, 8, 26)", len(a.Points))
	}
	for _, p := range a.Points {
		n := float64(p.Trial.N())
		if p.Reps != 2 || p.Invocations != 2*p.Trial.N() {
			t.Errorf("N=%g: reps %d invocations %d", n, p.Reps, p.Invocations)
		}
		// The window is bracketed by samples, so the counters see every byte: the aggregate is
		// the NIC (the idle sandbox of another function is not counted).
		if !near(p.AggBWMean.Median, runfixture.NIC, 0.015) { // ±1 % jitter per function
			t.Errorf("N=%g: counter aggregate %.4g B/s, want the NIC %.4g", n, p.AggBWMean.Median, runfixture.NIC)
		}
		if !near(p.AggBWClient.Median, p.AggBWMean.Median, 0.01) {
			t.Errorf("N=%g: clients' sum %.4g vs counters %.4g", n, p.AggBWClient.Median, p.AggBWMean.Median)
		}
		if !near(p.FnBWCounter.Median, runfixture.NIC/n, 0.02) || !near(p.FnBWClient.Median, runfixture.NIC/n, 0.02) {
			t.Errorf("N=%g: per-function median counters %.4g client %.4g, want ≈ %.4g", n, p.FnBWCounter.Median, p.FnBWClient.Median, runfixture.NIC/n)
		}
		if p.Jain.Median < 0.999 {
			t.Errorf("N=%g: Jain %g, want ≈ 1", n, p.Jain.Median)
		}
		if !near(p.AggBWPeak.Median, runfixture.NIC, 0.02) {
			t.Errorf("N=%g: peak %.4g, want ≈ NIC", n, p.AggBWPeak.Median)
		}
	}
}

func TestFig4TimesCostAndThrottling(t *testing.T) {
	a, err := analyze.Analyze(generated(t, "fig4", runfixture.Paper))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Series()
	if len(s) != 1 || s[0].Axis != analyze.AxisMemory || len(s[0].Points) != 6 {
		t.Fatalf("series %+v", s)
	}
	p128, p256 := s[0].Points[0], s[0].Points[1]
	// 10 MB at 9.5 MB/s (the paper's 128 MB figure), jitter 1 % down for worker 0.
	if want := 10e6 / (9.5e6 * 0.99); !near(p128.Download.Median, want, 1e-6) {
		t.Errorf("128 MB download time %g, want %g", p128.Download.Median, want)
	}
	if r := p256.Download.Median / p128.Download.Median; !near(r, 0.5, 0.001) {
		t.Errorf("128→256 MB download time ratio %g, want 0.5", r)
	}
	if p128.CostNorm != 1 {
		t.Errorf("baseline cost %g, want 1", p128.CostNorm)
	}
	// Billed: 12 items × ⌈1063.26 ms⌉ at 128 MB.
	if want := 12 * 1.064 * 128.0 / 1024; !near(p128.BilledGBs.Median, want, 1e-9) {
		t.Errorf("billed %g GB-s, want %g", p128.BilledGBs.Median, want)
	}
	// Throttled share from the fixture's 128/(128+mem).
	if !near(p128.Throttled.Median, 0.5, 0.1) || p128.Throttled.Median <= s[0].Points[5].Throttled.Median {
		t.Errorf("throttled share 128 MB %g, 3008 MB %g", p128.Throttled.Median, s[0].Points[5].Throttled.Median)
	}
	// Aggregated time is Σ download times: 12 items.
	if !near(p128.Aggregated.Median, 12*p128.Download.Median, 1e-6) {
		t.Errorf("aggregated %g, want 12 × %g", p128.Aggregated.Median, p128.Download.Median)
	}
}

func TestPoliciesPerFunctionAndMemory(t *testing.T) {
	a, err := analyze.Analyze(fixture(t, "policies", runfixture.Paper, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	byPolicy := map[string]analyze.Point{}
	for _, p := range a.Points {
		byPolicy[p.Trial.Policy] = p
	}
	if p := byPolicy["proportional"]; p.PerMBSpread > 0.01 || len(p.ByMemory) != 4 {
		t.Errorf("proportional: per-MB spread %g over %d sizes, want ≈ 0 over 4", p.PerMBSpread, len(p.ByMemory))
	}
	if p := byPolicy["equal"]; p.Jain.Median < 0.999 || p.PerMBSpread < 1 {
		t.Errorf("equal: Jain %g (want 1), per-MB spread %g (want large)", p.Jain.Median, p.PerMBSpread)
	}
	// none: shares 1:4:9:16 → Jain = 30²/(4·354).
	if j, want := byPolicy["none"].Jain.Median, 900.0/(4*354); !near(j, want, 0.01) {
		t.Errorf("none: Jain %g, want %g", j, want)
	}
}

// A resumed run holds a failed attempt and its invocations: only the successful attempt counts.
func TestRetriedTrialKeepsTheSuccessfulAttempt(t *testing.T) {
	run := runfixture.Build("fig5", runfixture.Plan("fig5")[:1], runfixture.Paper)
	good := run.Results[0]
	failed := record.TrialResult{TrialID: good.TrialID, StartedAt: good.StartedAt.Add(-time.Minute),
		FinishedAt: good.StartedAt.Add(-50 * time.Second), Error: "daemon gone"}
	stale := run.Invocations[0]
	stale.StartedAt, stale.FinishedAt, stale.Seconds = failed.StartedAt, failed.FinishedAt, 0.1
	run.Results = []record.TrialResult{failed, good}
	run.Invocations = append([]record.Invocation{stale}, run.Invocations...)
	a, err := analyze.Analyze(run)
	if err != nil {
		t.Fatal(err)
	}
	p := a.Points[0]
	if p.Invocations != 1 || p.Download.Median != 1.5 {
		t.Errorf("invocations %d download %g: the failed attempt's invocation was counted", p.Invocations, p.Download.Median)
	}
	run.Results = run.Results[:1] // only the failure: the point has no data
	a, _ = analyze.Analyze(run)
	if a.Points[0].Reps != 0 || a.Points[0].Missing != 1 || !math.IsNaN(a.Points[0].Download.Median) {
		t.Errorf("a failed trial was analyzed: %+v", a.Points[0])
	}
}

// A sandbox re-attached mid-window restarts its counters; the increase still counts both parts.
func TestCounterRestartCountsLikeIncrease(t *testing.T) {
	t0 := runfixture.Start()
	tr := record.Trial{ID: "x", Policy: "none", Workload: "iperf3-down", MemoryMB: []int{128}, Seconds: 1}
	sample := func(ms int, sb, up uint64) record.Sample {
		return record.Sample{TrialID: "x", Sample: client.NetworkSample{Time: t0.Add(time.Duration(ms) * time.Millisecond),
			Sandboxes: map[string]client.SandboxTraffic{"s": {SandboxID: "s", Traffic: client.Traffic{DownloadBytes: sb}}},
			Uplink:    client.Traffic{DownloadBytes: up}}}
	}
	run := &record.Run{Manifest: record.Manifest{Spec: "t", Trials: []record.Trial{tr}},
		Results:     []record.TrialResult{{TrialID: "x", StartedAt: t0, FinishedAt: t0.Add(time.Second), ResponseSeconds: 1}},
		Invocations: []record.Invocation{{TrialID: "x", SandboxID: "s", Status: "ok", Seconds: 1, Bytes: 1000, StartedAt: t0, FinishedAt: t0.Add(time.Second)}},
		Samples:     []record.Sample{sample(0, 100, 100), sample(500, 600, 600), sample(600, 50, 650), sample(1000, 550, 1100)}}
	a, err := analyze.Analyze(run)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Points[0].FnBWCounter.Median; got != 1050 {
		t.Errorf("per-function counter rate %g B/s, want 1050 (500 before the restart, 50 + 500 after it)", got)
	}
	if got := a.Points[0].AggBWMean.Median; got != 1000 {
		t.Errorf("uplink rate %g B/s, want 1000", got)
	}
}

func TestNoTrials(t *testing.T) {
	if _, err := analyze.Analyze(&record.Run{}); err != analyze.ErrNoTrials {
		t.Errorf("err %v, want ErrNoTrials", err)
	}
}
