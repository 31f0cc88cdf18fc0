package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faaslab/faaslab/internal/metricstest"
	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/scheduler"
	"github.com/faaslab/faaslab/scheduler/schedulertest"
)

// TestBilledByteSeconds: every invocation adds billed duration × memory to its function.
func TestBilledByteSeconds(t *testing.T) {
	e := newEnv(t, nil)
	e.create("bill", 128, 3)
	a, b := e.invoke("bill", `{}`), e.invoke("bill", `{}`)
	want := float64(a.Record.BilledMs+b.Record.BilledMs) / 1000 * 128 * (1 << 20)
	exp := fmt.Sprintf(`# HELP faaslab_billed_byte_seconds_total Billed duration × configured memory, in byte-seconds (divide by 2^30 for Lambda's GB-seconds).
# TYPE faaslab_billed_byte_seconds_total counter
faaslab_billed_byte_seconds_total{function="bill"} %g
`, want)
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(exp), "faaslab_billed_byte_seconds_total"); err != nil {
		t.Error(err)
	}
}

// TestFunctionResourceSeries: the cgroup collector reports live sandboxes' memory and
// keeps CPU counters of stopped ones (they must never go down).
func TestFunctionResourceSeries(t *testing.T) {
	e := newEnv(t, nil)
	e.create("res", 128, 3)
	e.invoke("res", `{}`)
	if n := count(t, e.reg, "faaslab_function_memory_peak_bytes"); n != 1 {
		t.Fatalf("memory peak series: %d, want 1 (one function with a live sandbox)", n)
	}
	if v := gaugeValue(t, e.reg, "faaslab_function_memory_peak_bytes", map[string]string{"function": "res"}); v <= 0 {
		t.Errorf("memory peak %v, want > 0", v)
	}
	stopIdle(t, e, "res")
	eventually(t, "sandbox stopped", func() bool {
		return gaugeValue(t, e.reg, "faaslab_sandboxes", map[string]string{"function": "res", "state": "idle"}) == 0 &&
			count(t, e.reg, "faaslab_function_memory_peak_bytes") == 0
	})
	if n := count(t, e.reg, "faaslab_function_cpu_usage_seconds_total"); n != 1 {
		t.Errorf("cpu usage series after the sandbox stopped: %d, want 1 (kept)", n)
	}
}

// TestFunctionCPUCounterNeverGoesDown: a sandbox whose cgroup can no longer be read (it
// died, and its cgroup went, before the scheduler retired it) keeps its CPU time in the
// function's counter, at the next scrape and after it is stopped.
func TestFunctionCPUCounterNeverGoesDown(t *testing.T) {
	e := newEnv(t, nil)
	e.create("cpu", 128, 3)
	sb := e.fake.Get(e.invoke("cpu", `{}`).Record.SandboxID)
	sb.SetCPUUsage(5e9)
	const name = "faaslab_function_cpu_usage_seconds_total"
	fn := map[string]string{"function": "cpu"}
	if v := gaugeValue(t, e.reg, name, fn); v != 5 {
		t.Fatalf("%s = %v, want 5", name, v)
	}
	sb.LoseCgroup()
	if v := gaugeValue(t, e.reg, name, fn); v != 5 {
		t.Errorf("%s = %v once the cgroup could not be read, want 5 (a counter never goes down)", name, v)
	}
	stopIdle(t, e, "cpu")
	eventually(t, "sandbox stopped", sb.Stopped)
	if v := gaugeValue(t, e.reg, name, fn); v != 5 {
		t.Errorf("%s = %v after the sandbox stopped, want 5", name, v)
	}
}

// TestSchedulerMetricsLint: the scheduler's series follow Prometheus naming conventions.
func TestSchedulerMetricsLint(t *testing.T) {
	e := newEnv(t, nil)
	e.create("lint", 128, 3)
	e.invoke("lint", `{}`)
	problems, err := testutil.GatherAndLint(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// stopIdle stops the function's idle sandboxes (a configuration update does; the
// function, and so its series, stay).
func stopIdle(t *testing.T, e *env, name string) {
	t.Helper()
	d := "stop idle sandboxes"
	if _, err := e.s.UpdateFunctionConfiguration(context.Background(), name, scheduler.ConfigUpdate{Description: &d}); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	n, err := testutil.GatherAndCount(g, name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDurationBucketsReachLambdaTimeout: an invocation near Lambda's 900 s timeout lands
// in a finite bucket of the duration histograms, not only in +Inf.
func TestDurationBucketsReachLambdaTimeout(t *testing.T) {
	e := newEnv(t, nil)
	e.create("buckets", 128, 3)
	e.invoke("buckets", `{}`)
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "faaslab_invocation_duration_seconds", "faaslab_cold_start_duration_seconds":
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			top := 0.0
			for _, b := range m.GetHistogram().GetBucket() {
				if !math.IsInf(b.GetUpperBound(), 1) {
					top = max(top, b.GetUpperBound())
				}
			}
			if top < 900 {
				t.Errorf("%s: largest finite bucket %g s, want >= 900 (Lambda's timeout)", mf.GetName(), top)
			}
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("histograms checked: %d, want 2", seen)
	}
}

// TestFailedInitCPUCounted: a sandbox whose init fails (an /init/error, or its process
// exits during init) is torn down at once; its CPU time still counts for its function.
func TestFailedInitCPUCounted(t *testing.T) {
	for name, end := range map[string]func(*schedulertest.Sandbox, *schedulertest.Endpoint){
		"init error": func(_ *schedulertest.Sandbox, ep *schedulertest.Endpoint) {
			ep.PostInitError(runtime.Response{FunctionError: true, ErrorType: "Runtime.Broken"})
		},
		"exit": func(sb *schedulertest.Sandbox, _ *schedulertest.Endpoint) { sb.Exit(errors.New("boom")) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.fake.Init = func(sb *schedulertest.Sandbox, ep *schedulertest.Endpoint) {
				sb.SetCPUUsage(2e9)
				end(sb, ep)
			}
			e.create("broken", 128, 3)
			if res := e.invoke("broken", `{}`); res.Record.Outcome != scheduler.OutcomeInitError {
				t.Fatalf("outcome %q, want %q", res.Record.Outcome, scheduler.OutcomeInitError)
			}
			const name = "faaslab_function_cpu_usage_seconds_total"
			if v := metricstest.ValueOr(t, e.reg, name, prometheus.Labels{"function": "broken"}, 0); v != 2 {
				t.Errorf("%s = %v, want 2 (the failed sandbox's CPU time)", name, v)
			}
		})
	}
}

// TestDeletedFunctionSeriesRemoved: once a deleted function's last sandbox stopped, no
// series carries its name (the runner makes a function per trial: the label must not
// grow without bound); one created again under that name starts from zero.
func TestDeletedFunctionSeriesRemoved(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Init = func(sb *schedulertest.Sandbox, ep *schedulertest.Endpoint) {
		sb.SetCPUUsage(1e9)
		ep.SetReady()
	}
	e.create("gone", 128, 3)
	sb := e.fake.Get(e.invoke("gone", `{}`).Record.SandboxID)
	e.create("stays", 128, 3)
	e.invoke("stays", `{}`)
	if err := e.s.DeleteFunction(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "sandbox stopped", sb.Stopped)
	eventually(t, "series removed", func() bool { return len(seriesOf(t, e.reg, "gone")) == 0 })
	if len(seriesOf(t, e.reg, "stays")) == 0 {
		t.Error("the other function's series went too")
	}
	if got := e.fake.Forgotten(); !slices.Equal(got, []string{"gone"}) {
		t.Errorf("network told to forget %q, want [gone] (its per-function totals go too)", got)
	}
	e.create("gone", 128, 3)
	e.invoke("gone", `{}`)
	const name = "faaslab_invocations_total"
	l := prometheus.Labels{"function": "gone", "outcome": scheduler.OutcomeSuccess, "start": scheduler.StartCold}
	if v := metricstest.Value(t, e.reg, name, l); v != 1 {
		t.Errorf("%s of the re-created function = %v, want 1", name, v)
	}
}

// seriesOf names the series whose function label is fn.
func seriesOf(t *testing.T, g prometheus.Gatherer, fn string) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, p := range m.GetLabel() {
				if p.GetName() == "function" && p.GetValue() == fn {
					out = append(out, mf.GetName())
				}
			}
		}
	}
	return out
}
