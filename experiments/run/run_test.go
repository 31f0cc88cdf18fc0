package run

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/plan"
	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/spec"
	"github.com/faaslab/faaslab/experiments/target"
)

func mustSpec(t *testing.T, doc string) *spec.Spec {
	t.Helper()
	s, err := spec.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fixture struct {
	spec   *spec.Spec
	trials []record.Trial
	fake   *target.Fake
	fleet  *target.FakeFleet
	dir    string
	w      *record.Writer
	events []Event
}

func newFixture(t *testing.T, doc string, delay time.Duration) *fixture {
	f := &fixture{spec: mustSpec(t, doc), fake: target.NewFake("fake", delay), dir: t.TempDir()}
	f.trials = plan.Expand(f.spec, false)
	f.fleet = &target.FakeFleet{HostsList: []target.Host{f.fake}}
	var err error
	if f.w, err = record.Create(f.dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.w.Close() })
	return f
}

func (f *fixture) runner() *Runner {
	return &Runner{Spec: f.spec, RunID: "test", Fleet: f.fleet, Writer: f.w, Progress: func(e Event) { f.events = append(f.events, e) }}
}

func (f *fixture) load(t *testing.T) *record.Run {
	t.Helper()
	m, _ := NewManifest("test", f.spec, false, f.trials)
	if err := f.w.WriteManifest(m); err != nil {
		t.Fatal(err)
	}
	run, err := record.Load(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// Iperf3: every co-located function is warmed before any transfer starts, then all N
// transfers run at once (the barrier), each against its own server port.
func TestBarrierWarmsFirstThenReleasesAll(t *testing.T) {
	f := newFixture(t, "name: b\nworkload: iperf3-down\ncolocation: [1, 8]\niperf_seconds: 1\n", 50*time.Millisecond)
	sum, err := f.runner().Run(context.Background(), f.trials, nil)
	if err != nil || sum.Ran != 2 || sum.Failed != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	if f.fake.MaxRunning != 8 {
		t.Errorf("at most %d transfers ran at once, want all 8", f.fake.MaxRunning)
	}
	// Within each trial (the log from one "policy" entry to the next) every warm
	// precedes every start.
	trial := -1
	lastWarm, firstStart := map[int]int{}, map[int]int{}
	for i, l := range f.fake.Log {
		switch {
		case strings.HasPrefix(l, "policy "):
			trial++
		case strings.HasPrefix(l, "warm "):
			lastWarm[trial] = i
		case strings.HasPrefix(l, "start "):
			if _, ok := firstStart[trial]; !ok {
				firstStart[trial] = i
			}
		}
	}
	if trial != 1 || lastWarm[1] > firstStart[1] || lastWarm[0] > firstStart[0] {
		t.Errorf("a warm-up came after a transfer started: %v", f.fake.Log)
	}
	ports := map[float64]bool{}
	for _, p := range f.fake.Payloads[1:] {
		var doc map[string]any
		json.Unmarshal([]byte(p), &doc)
		if doc["reverse"] != true || doc["seconds"] != 1.0 {
			t.Errorf("payload %s", p)
		}
		ports[doc["port"].(float64)] = true
	}
	if len(ports) != 8 {
		t.Errorf("8 clients used %d distinct ports", len(ports))
	}
	if f.fake.Functions() != 0 {
		t.Errorf("%d functions left after the run", f.fake.Functions())
	}
	run := f.load(t)
	if len(run.Invocations) != 9 || len(run.Results) != 2 || len(run.Samples) < 4 {
		t.Errorf("%d invocations, %d results, %d samples", len(run.Invocations), len(run.Results), len(run.Samples))
	}
	for _, inv := range run.Invocations {
		if inv.Status != StatusOK || inv.BitsPerSec <= 0 || inv.RequestID == "" || inv.SandboxID != "" && !strings.HasPrefix(inv.SandboxID, "sb-") {
			t.Errorf("invocation %+v", inv)
		}
	}
	if len(f.events) != 2 || f.events[1].Done != 2 || f.events[1].Total != 2 {
		t.Errorf("events %+v", f.events)
	}
}

// Objects: N workers share a work queue; each free worker takes the next item, every item
// runs exactly once, and the work spreads over the workers.
// The daemon hears how far the experiment is after every trial (its /metrics export it).
func TestProgressReachesTheDaemon(t *testing.T) {
	f := newFixture(t, "name: p\nworkload: iperf3-down\ncolocation: [1, 2, 4]\niperf_seconds: 1\n", 5*time.Millisecond)
	if _, err := f.runner().Run(context.Background(), f.trials, nil); err != nil {
		t.Fatal(err)
	}
	got := f.fake.Progress
	if len(got) != 3 || got[0].Done != 1 || got[2].Done != 3 || got[2].Total != 3 || got[2].Spec != "p" || got[2].ETASeconds != 0 || got[0].ETASeconds <= 0 {
		t.Errorf("progress reports %+v: want done 1..3 of 3 for spec p, ETA falling to 0", got)
	}
}

func TestWorkQueue(t *testing.T) {
	f := newFixture(t, "name: q\nworkload: s3get\ncolocation: 3\nobjects: 12\n", 10*time.Millisecond)
	if _, err := f.runner().Run(context.Background(), f.trials, nil); err != nil {
		t.Fatal(err)
	}
	run := f.load(t)
	if len(run.Invocations) != 12 {
		t.Fatalf("%d invocations, want 12", len(run.Invocations))
	}
	items, perWorker := map[int]bool{}, map[int]int{}
	for _, inv := range run.Invocations {
		items[inv.Item] = true
		perWorker[inv.Worker]++
	}
	if len(items) != 12 || len(perWorker) != 3 {
		t.Errorf("items %v workers %v", items, perWorker)
	}
	for w, n := range perWorker {
		if n < 2 {
			t.Errorf("worker %d took only %d items of 12", w, n)
		}
	}
	if f.fake.MaxRunning != 3 {
		t.Errorf("max %d at once, want 3", f.fake.MaxRunning)
	}
	if r := run.Results[0]; r.ResponseSeconds <= 0 || r.Error != "" {
		t.Errorf("result %+v", r)
	}
}

// Resume: finished trials are skipped and only the rest run.
func TestResumeSkipsFinished(t *testing.T) {
	f := newFixture(t, "name: r\nworkload: iperf3-up\nmemory_mb: [128, 256, 512]\n", time.Millisecond)
	finished := map[string]bool{f.trials[0].ID: true, f.trials[2].ID: true}
	sum, err := f.runner().Run(context.Background(), f.trials, finished)
	if err != nil || sum.Ran != 1 || sum.Skipped != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	run := f.load(t)
	if len(run.Results) != 1 || run.Results[0].TrialID != f.trials[1].ID {
		t.Errorf("results %+v", run.Results)
	}
}

// Ctrl-C (ctx cancelled mid-trial): Run returns at once with the context's error, the
// interrupted trial leaves no records (it reruns on --resume), its functions are deleted,
// and a second Run with the first's Finished completes the rest.
func TestCancelLeavesResumableRun(t *testing.T) {
	f := newFixture(t, "name: c\nworkload: iperf3-down\ncolocation: [2, 4, 8]\n", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.fake.Invoked() // the first trial's transfers are running
		cancel()
	}()
	start := time.Now()
	_, err := f.runner().Run(ctx, f.trials, nil)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("Run after cancel: %v after %v", err, time.Since(start))
	}
	if f.fake.Functions() != 0 {
		t.Errorf("%d functions left after Ctrl-C", f.fake.Functions())
	}
	run := f.load(t)
	if len(run.Results) != 0 || len(run.Invocations) != 0 || len(run.Samples) != 0 {
		t.Errorf("interrupted trial wrote %d results, %d invocations, %d samples", len(run.Results), len(run.Invocations), len(run.Samples))
	}
	f.fake.Delay = time.Millisecond
	sum, err := f.runner().Run(context.Background(), f.trials, run.Finished())
	if err != nil || sum.Ran != 3 {
		t.Fatalf("resume: %+v %v", sum, err)
	}
}

// A daemon without the S3 store: the object trials fail at once saying why (nothing of
// theirs is created), the iperf3 trials still run.
func TestObjectTrialsNeedTheStore(t *testing.T) {
	f := newFixture(t, "name: s\nworkload: [iperf3-up, s3get]\n", time.Millisecond)
	f.fake.NoS3Store = true
	sum, err := f.runner().Run(context.Background(), f.trials, nil)
	if err != nil || sum.Ran != 1 || sum.Failed != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	run := f.load(t)
	var failed record.TrialResult
	for _, r := range run.Results {
		if r.Error != "" {
			failed = r
		}
	}
	if !strings.Contains(failed.TrialID, "s3get") || !strings.Contains(failed.Error, "needs the S3 store") {
		t.Errorf("results %+v", run.Results)
	}
	if run.Finished()[failed.TrialID] || len(f.fake.Payloads) != 1 || strings.Contains(f.fake.Payloads[0], "bucket") {
		t.Errorf("the object trial ran or counts as finished: %v", f.fake.Payloads)
	}
}

// Policies and CPU models: each trial sets its policy (strict for proportional-strict),
// and the fleet is asked for one host configuration per CPU model, in order.
func TestPolicyAndCPUModelSegments(t *testing.T) {
	f := newFixture(t, "name: p\nworkload: iperf3-up\nmix: [128, 1024]\ncpu_model: [paper, lambda]\npolicy: [equal, proportional-strict]\n", time.Millisecond)
	if _, err := f.runner().Run(context.Background(), f.trials, nil); err != nil {
		t.Fatal(err)
	}
	if len(f.fleet.Configs) != 2 || f.fleet.Configs[0].CPUModel != "paper" || f.fleet.Configs[1].CPUModel != "lambda" {
		t.Errorf("configs %+v", f.fleet.Configs)
	}
	want := []target.Policy{{Name: "equal"}, {Name: "proportional", Strict: true}, {Name: "equal"}, {Name: "proportional", Strict: true}}
	if !slices.Equal(f.fake.Policies, want) {
		t.Errorf("policies %+v", f.fake.Policies)
	}
}

// Several hosts: trials spread over them, each trial's functions on one host.
func TestSeveralHosts(t *testing.T) {
	f := newFixture(t, "name: m\nworkload: iperf3-up\ncolocation: 2\nrepetitions: 4\n", 30*time.Millisecond)
	other := target.NewFake("other", 30*time.Millisecond)
	f.fleet.HostsList = append(f.fleet.HostsList, other)
	if _, err := f.runner().Run(context.Background(), f.trials, nil); err != nil {
		t.Fatal(err)
	}
	a, b := len(f.fake.Payloads), len(other.Payloads)
	if a+b != 8 || a == 0 || b == 0 || a%2 != 0 {
		t.Errorf("payloads per host %d and %d, want 8 in pairs on both", a, b)
	}
}

// A put trial's uploads are deleted from the host's store when it ends (they are
// measured, not kept); a get trial deletes nothing.
func TestUploadsDeletedAfterPutTrials(t *testing.T) {
	f := newFixture(t, "name: u\nworkload: [s3get, s3put]\nobjects: 2\n", time.Millisecond)
	if _, err := f.runner().Run(context.Background(), f.trials, nil); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, l := range f.fake.Log {
		if strings.HasPrefix(l, "uploads-deleted ") {
			deleted = append(deleted, l)
		}
	}
	if len(deleted) != 1 || deleted[0] != "uploads-deleted test" {
		t.Errorf("deletions %v: want one, of run test, after the put trial", deleted)
	}
}
