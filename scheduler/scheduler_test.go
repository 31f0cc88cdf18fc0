package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaslab/faaslab/internal/metricstest"
	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/scheduler"
	"github.com/faaslab/faaslab/scheduler/schedulertest"
)

// testProfile is a small host so memory runs out after a few sandboxes.
func testProfile(memoryMB int) sandbox.Profile {
	return sandbox.Profile{Name: "test", VCPUs: 2, MemoryBytes: int64(memoryMB) << 20, MaxFunctionMemoryMB: 3008}
}

type env struct {
	t    *testing.T
	s    *scheduler.Scheduler
	fake *schedulertest.Fake
	reg  *prometheus.Registry
	recs *testutil.SyncBuffer
	cfg  scheduler.Config
}

func newEnv(t *testing.T, mutate func(*scheduler.Config)) *env {
	t.Helper()
	cfg := scheduler.DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.RuntimeBin = "/bin/true"
	cfg.Profile = testProfile(1024)
	cfg.HostID = "test-host"
	e := &env{t: t, fake: schedulertest.New(), reg: prometheus.NewRegistry(), recs: &testutil.SyncBuffer{}}
	cfg.Records = e.recs
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := scheduler.New(cfg, e.fake.Deps(), e.reg)
	if err != nil {
		t.Fatal(err)
	}
	e.s, e.cfg = s, cfg
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

func (e *env) create(name string, memoryMB, timeoutSec int) {
	e.t.Helper()
	_, err := e.s.CreateFunction(context.Background(), scheduler.CreateFunctionInput{
		Name: name, Runtime: scheduler.RuntimeFaaslab, Handler: "echo", MemoryMB: memoryMB, TimeoutSec: timeoutSec})
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
}

func (e *env) invoke(name, payload string) *scheduler.InvokeResult {
	e.t.Helper()
	res, err := e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: name, Payload: []byte(payload), Tail: true})
	if err != nil {
		e.t.Fatalf("invoke %s: %v", name, err)
	}
	return res
}

// eventually polls cond; background teardown is asynchronous.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for: %s", what)
}

// gate makes handlers block until opened, and tells how many are inside.
type gate struct {
	open    chan struct{}
	entered chan string
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan string, 100)} }

func (g *gate) handler(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
	g.entered <- sb.ID()
	select {
	case <-g.open:
		return runtime.Response{Payload: inv.Payload}, nil
	case <-ctx.Done():
		return runtime.Response{}, ctx.Err()
	}
}

func (g *gate) wait(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		select {
		case id := <-g.entered:
			ids = append(ids, id)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d invocations reached a sandbox", i, n)
		}
	}
	return ids
}

// gaugeValue is a sample's value; a series never touched reads as 0.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	return metricstest.ValueOr(t, reg, name, labels, 0)
}

func TestSequentialInvokesReuseOneSandbox(t *testing.T) {
	e := newEnv(t, nil)
	e.create("hello", 128, 3)
	first := e.invoke("hello", `{"a":1}`)
	second := e.invoke("hello", `{"a":2}`)
	if string(second.Payload) != `{"a":2}` || second.FunctionError {
		t.Fatalf("echo: %s (function error %v)", second.Payload, second.FunctionError)
	}
	if got := e.fake.Created(); len(got) != 1 {
		t.Fatalf("two sequential invokes created %d sandboxes (%v), want 1", len(got), got)
	}
	if first.Record.Start != scheduler.StartCold || second.Record.Start != scheduler.StartWarm {
		t.Errorf("starts %s, %s; want cold, warm", first.Record.Start, second.Record.Start)
	}
	if first.Record.SandboxID != second.Record.SandboxID {
		t.Errorf("sandboxes %s and %s differ", first.Record.SandboxID, second.Record.SandboxID)
	}
	if !strings.Contains(string(first.LogTail), "Init Duration:") || strings.Contains(string(second.LogTail), "Init Duration") {
		t.Errorf("Init Duration must be only in the cold REPORT:\n%s\n---\n%s", first.LogTail, second.LogTail)
	}
	if got := gaugeValue(t, e.reg, "faaslab_invocations_total", map[string]string{"function": "hello", "outcome": "success", "start": "warm"}); got != 1 {
		t.Errorf("warm success counter = %v, want 1", got)
	}
}

func TestConcurrentInvokesCreateOneSandboxEach(t *testing.T) {
	e := newEnv(t, nil)
	g := newGate()
	e.fake.Handler = g.handler
	e.create("par", 128, 3)
	const n = 5
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); e.invoke("par", "{}") }()
	}
	ids := g.wait(t, n)
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("%d concurrent invocations ran on %d distinct sandboxes, want %d", n, len(seen), n)
	}
	if v := gaugeValue(t, e.reg, "faaslab_sandboxes", map[string]string{"function": "par", "state": "busy"}); v != n {
		t.Errorf("busy gauge = %v, want %d", v, n)
	}
	close(g.open)
	wg.Wait()
	if v := gaugeValue(t, e.reg, "faaslab_sandboxes", map[string]string{"function": "par", "state": "idle"}); v != n {
		t.Errorf("idle gauge after = %v, want %d", v, n)
	}
}

func TestMemoryFullQueuesThenServes(t *testing.T) {
	e := newEnv(t, func(c *scheduler.Config) { c.Profile = testProfile(256) })
	g := newGate()
	e.fake.Handler = g.handler
	e.create("q", 128, 3)
	results := make(chan *scheduler.InvokeResult, 3)
	for i := 0; i < 3; i++ {
		go func() { results <- e.invoke("q", "{}") }()
	}
	g.wait(t, 2)
	eventually(t, "one invocation queued", func() bool {
		return gaugeValue(t, e.reg, "faaslab_queue_length", nil) == 1
	})
	if got := len(e.fake.Created()); got != 2 {
		t.Fatalf("256 MB host made %d 128 MB sandboxes, want 2", got)
	}
	g.open <- struct{}{} // let one finish; its sandbox serves the queued one
	g.wait(t, 1)
	close(g.open)
	for i := 0; i < 3; i++ {
		if r := <-results; r.FunctionError {
			t.Errorf("function error: %s", r.Payload)
		}
	}
	if got := len(e.fake.Created()); got != 2 {
		t.Errorf("queued invocation should reuse a sandbox; %d created", got)
	}
	if v := gaugeValue(t, e.reg, "faaslab_queue_length", nil); v != 0 {
		t.Errorf("queue length %v after all served", v)
	}
}

func TestQueueBoundGives429(t *testing.T) {
	e := newEnv(t, func(c *scheduler.Config) { c.Profile = testProfile(128); c.MaxQueue = 1 })
	g := newGate()
	e.fake.Handler = g.handler
	e.create("b", 128, 3)
	done := make(chan struct{}, 2)
	go func() { e.invoke("b", "{}"); done <- struct{}{} }()
	g.wait(t, 1)
	go func() { e.invoke("b", "{}"); done <- struct{}{} }()
	eventually(t, "queued", func() bool { return gaugeValue(t, e.reg, "faaslab_queue_length", nil) == 1 })
	_, err := e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: "b"})
	var te *scheduler.ThrottleError
	if !errors.As(err, &te) || !errors.Is(err, scheduler.ErrTooManyRequests) {
		t.Fatalf("third invocation past the queue bound: %v, want ThrottleError", err)
	}
	if !strings.Contains(te.Msg, "Rate Exceeded") {
		t.Errorf("throttle message %q", te.Msg)
	}
	close(g.open)
	<-done
	<-done
}

func TestFullHostEvictsIdleSandboxesOfOtherFunctions(t *testing.T) {
	e := newEnv(t, func(c *scheduler.Config) { c.Profile = testProfile(256) })
	g := newGate()
	e.fake.Handler = g.handler
	e.create("a", 128, 3)
	e.create("b", 128, 3)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); e.invoke("a", "{}") }()
	}
	g.wait(t, 2)
	close(g.open)
	wg.Wait()
	aIDs := e.fake.Created()
	res := e.invoke("b", "{}")
	if res.FunctionError || res.Record.Start != scheduler.StartCold {
		t.Fatalf("b on a full host: %s start %s", res.Payload, res.Record.Start)
	}
	stopped := 0
	for _, id := range aIDs {
		if e.fake.Get(id).Stopped() {
			stopped++
		}
	}
	if stopped != 1 {
		t.Errorf("%d idle sandboxes of a evicted, want exactly 1 (just enough room)", stopped)
	}
	if v := gaugeValue(t, e.reg, "faaslab_sandbox_evictions_total", nil); v != 1 {
		t.Errorf("evictions counter %v, want 1", v)
	}
}

func TestKeepAliveStopsIdleSandboxes(t *testing.T) {
	e := newEnv(t, func(c *scheduler.Config) { c.KeepAlive = 50 * time.Millisecond })
	e.create("k", 128, 3)
	first := e.invoke("k", "{}")
	eventually(t, "idle sandbox stopped after keep-alive", func() bool { return len(e.fake.Live()) == 0 })
	if v := gaugeValue(t, e.reg, "faaslab_sandboxes", map[string]string{"function": "k", "state": "idle"}); v != 0 {
		t.Errorf("idle gauge %v after keep-alive", v)
	}
	second := e.invoke("k", "{}")
	if second.Record.Start != scheduler.StartCold || second.Record.SandboxID == first.Record.SandboxID {
		t.Errorf("after keep-alive expiry: start %s on %s, want cold on a new sandbox", second.Record.Start, second.Record.SandboxID)
	}
}

// TestAnswerAtTheDeadlineIsATimeout: a handler that watches its own deadline and answers
// the moment it passes (an error of its own) must still be reported as Lambda's timeout.
func TestAnswerAtTheDeadlineIsATimeout(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		time.Sleep(time.Until(inv.Deadline))
		return runtime.Response{Payload: []byte(`{"errorType":"Interrupted"}`), FunctionError: true}, nil
	}
	e.create("racer", 128, 1)
	res := e.invoke("racer", "{}")
	if !strings.Contains(string(res.Payload), "Task timed out after 1.00 seconds") || res.Record.Outcome != scheduler.OutcomeTimeout {
		t.Errorf("answer at the deadline: outcome %s payload %s", res.Record.Outcome, res.Payload)
	}
}

func TestTimeoutReturnsLambdaErrorAndReplacesSandbox(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		if string(inv.Payload) == "slow" {
			<-ctx.Done()
			return runtime.Response{}, ctx.Err()
		}
		return runtime.Response{Payload: inv.Payload}, nil
	}
	e.create("slow", 128, 1)
	res := e.invoke("slow", "slow")
	if !res.FunctionError || !strings.Contains(string(res.Payload), "Task timed out after 1.00 seconds") {
		t.Fatalf("timeout: function error %v payload %s", res.FunctionError, res.Payload)
	}
	var doc runtime.ErrorDocument
	if err := json.Unmarshal(res.Payload, &doc); err != nil || doc.ErrorType != "Sandbox.Timedout" {
		t.Errorf("timeout error document %s: %v", res.Payload, err)
	}
	if res.Record.Outcome != scheduler.OutcomeTimeout {
		t.Errorf("outcome %s", res.Record.Outcome)
	}
	if !strings.Contains(string(res.LogTail), "Task timed out after 1.00 seconds") || !strings.Contains(string(res.LogTail), "Status: timeout") {
		t.Errorf("log tail lacks the timeout:\n%s", res.LogTail)
	}
	eventually(t, "timed-out sandbox stopped", func() bool { return e.fake.Get(res.Record.SandboxID).Stopped() })
	next := e.invoke("slow", "fast")
	if next.FunctionError || next.Record.Start != scheduler.StartCold || next.Record.SandboxID == res.Record.SandboxID {
		t.Errorf("after timeout: %s start %s sandbox %s", next.Payload, next.Record.Start, next.Record.SandboxID)
	}
}

func TestCrashAndOOMNameTheCauseAndRecover(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		switch string(inv.Payload) {
		case "crash":
			sb.Exit(errors.New("exit status 2"))
		case "oom":
			sb.OOM()
		default:
			return runtime.Response{Payload: inv.Payload}, nil
		}
		<-ctx.Done()
		return runtime.Response{}, ctx.Err()
	}
	e.create("f", 128, 3)
	for _, c := range []struct{ payload, errType, text, outcome string }{
		{"crash", "Runtime.ExitError", "exit status 2", scheduler.OutcomeCrash},
		{"oom", "Runtime.OutOfMemory", "out of memory", scheduler.OutcomeOOM},
	} {
		res := e.invoke("f", c.payload)
		var doc runtime.ErrorDocument
		json.Unmarshal(res.Payload, &doc)
		if !res.FunctionError || doc.ErrorType != c.errType || !strings.Contains(doc.ErrorMessage, c.text) {
			t.Errorf("%s: function error %v, document %s; want type %s naming %q", c.payload, res.FunctionError, res.Payload, c.errType, c.text)
		}
		if res.Record.Outcome != c.outcome {
			t.Errorf("%s: outcome %s, want %s", c.payload, res.Record.Outcome, c.outcome)
		}
		next := e.invoke("f", "ok")
		if next.FunctionError || next.Record.Start != scheduler.StartCold {
			t.Errorf("after %s: %s start %s, want a cold start that works", c.payload, next.Payload, next.Record.Start)
		}
	}
	if res := e.invoke("f", "oom"); res.Record.MaxMemoryUsedMB != 128 {
		t.Errorf("OOM at 128 MB: Max Memory Used %d MB", res.Record.MaxMemoryUsedMB)
	}
}

func TestHandledFunctionErrorKeepsSandbox(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		return runtime.Response{FunctionError: true, ErrorType: "MyError", Payload: []byte(`{"errorMessage":"no","errorType":"MyError"}`)}, nil
	}
	e.create("h", 128, 3)
	a := e.invoke("h", "{}")
	b := e.invoke("h", "{}")
	if !a.FunctionError || string(a.Payload) != `{"errorMessage":"no","errorType":"MyError"}` {
		t.Errorf("handler error passed as %s", a.Payload)
	}
	if b.Record.Start != scheduler.StartWarm || a.Record.Outcome != scheduler.OutcomeFunctionError {
		t.Errorf("handled error: outcome %s, next start %s (want function_error, warm)", a.Record.Outcome, b.Record.Start)
	}
}

func TestInitFailures(t *testing.T) {
	cases := []struct {
		name    string
		init    schedulertest.InitFunc
		errType string
	}{
		{"init-error", func(sb *schedulertest.Sandbox, ep *schedulertest.Endpoint) {
			ep.PostInitError(runtime.Response{FunctionError: true, ErrorType: "Runtime.Broken", Payload: []byte(`{"errorMessage":"bad","errorType":"Runtime.Broken"}`)})
		}, "Runtime.Broken"},
		{"exit", func(sb *schedulertest.Sandbox, ep *schedulertest.Endpoint) { sb.Exit(errors.New("exit status 1")) }, "Runtime.ExitError"},
		{"hang", func(sb *schedulertest.Sandbox, ep *schedulertest.Endpoint) {}, "Sandbox.Timedout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *scheduler.Config) { cfg.InitTimeout = 50 * time.Millisecond })
			e.fake.Init = c.init
			e.create("i", 128, 3)
			res := e.invoke("i", "{}")
			if !res.FunctionError || !strings.Contains(string(res.Payload), c.errType) {
				t.Errorf("init failure: function error %v payload %s, want %s", res.FunctionError, res.Payload, c.errType)
			}
			if res.Record.Outcome != scheduler.OutcomeInitError {
				t.Errorf("outcome %s", res.Record.Outcome)
			}
			eventually(t, "failed sandbox undone", func() bool { return len(e.fake.Live()) == 0 })
			if !strings.Contains(string(res.LogTail), "REPORT RequestId: "+res.RequestID) {
				t.Errorf("log tail lacks REPORT:\n%s", res.LogTail)
			}
		})
	}
}

func TestPlatformFailureIsAnErrorAndUndone(t *testing.T) {
	e := newEnv(t, nil)
	e.create("p", 128, 3)
	e.fake.CreateErr = errors.New("no cgroup for you")
	_, err := e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: "p"})
	if err == nil || !strings.Contains(err.Error(), "no cgroup for you") {
		t.Fatalf("create failure: %v", err)
	}
	e.fake.CreateErr = nil
	if res := e.invoke("p", "{}"); res.FunctionError {
		t.Errorf("after a failed cold start memory must be free again: %s", res.Payload)
	}
}

func TestReservedConcurrency(t *testing.T) {
	e := newEnv(t, nil)
	g := newGate()
	e.fake.Handler = g.handler
	e.create("r", 128, 3)
	one := 1
	if _, err := e.s.PutFunctionConcurrency("r", &one); err != nil {
		t.Fatal(err)
	}
	// Reserved concurrency 1, two concurrent sync calls: the second is throttled at
	// once (Lambda's 429), not queued behind the first.
	first := make(chan *scheduler.InvokeResult, 1)
	go func() { first <- e.invoke("r", "{}") }()
	g.wait(t, 1)
	_, err := e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: "r"})
	var te *scheduler.ThrottleError
	if !errors.As(err, &te) || te.Reason != scheduler.ReasonReservedConcurrency || te.Msg != "Rate Exceeded." {
		t.Fatalf("second sync call at reserved concurrency 1: %v, want a ThrottleError %s", err, scheduler.ReasonReservedConcurrency)
	}
	// An Event invocation at the limit waits for the slot instead, as in Lambda's event queue.
	if err := e.s.InvokeAsync(&scheduler.InvokeRequest{Function: "r", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "event queued behind the limit", func() bool {
		return gaugeValue(t, e.reg, "faaslab_queue_length", nil) == 1
	})
	close(g.open)
	<-first
	g.wait(t, 1) // the event ran after the first call
	if got := len(e.fake.Created()); got != 1 {
		t.Errorf("reserved concurrency 1 made %d sandboxes", got)
	}
	zero := 0
	if _, err := e.s.PutFunctionConcurrency("r", &zero); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: "r"})
	if !errors.As(err, &te) || te.Reason != scheduler.ReasonReservedConcurrency {
		t.Errorf("reserved concurrency 0: %v", err)
	}
	bad := -1
	if _, err := e.s.PutFunctionConcurrency("r", &bad); !errors.Is(err, scheduler.ErrInvalidParameter) {
		t.Errorf("negative concurrency: %v", err)
	}
}

func TestUpdateConfigurationRetiresOldSandboxes(t *testing.T) {
	e := newEnv(t, nil)
	e.create("u", 128, 3)
	first := e.invoke("u", "{}")
	mem := 256
	if _, err := e.s.UpdateFunctionConfiguration(context.Background(), "u", scheduler.ConfigUpdate{MemoryMB: &mem}); err != nil {
		t.Fatal(err)
	}
	second := e.invoke("u", "{}")
	if second.Record.Start != scheduler.StartCold || second.Record.MemoryMB != 256 {
		t.Errorf("after update: start %s memory %d, want cold 256", second.Record.Start, second.Record.MemoryMB)
	}
	eventually(t, "old sandbox retired", func() bool { return e.fake.Get(first.Record.SandboxID).Stopped() })
	if sb := e.fake.Get(second.Record.SandboxID); sb.Spec.MemoryMB != 256 || sb.Spec.CPUQuotaUs != 17000 {
		t.Errorf("new sandbox resources %+v", sb.Spec.Resources)
	}
	big := 99999
	_, err := e.s.UpdateFunctionConfiguration(context.Background(), "u", scheduler.ConfigUpdate{MemoryMB: &big})
	var pe *scheduler.ParamError
	if !errors.As(err, &pe) || pe.Field != "MemorySize" || !strings.Contains(pe.Msg, "128–3008") {
		t.Errorf("bad memory: %v", err)
	}
}

func TestReportLineAndRecord(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		sb.SetPeak(37<<20 + 1)
		sb.Log("hello from the handler\n")
		return runtime.Response{Payload: []byte("ok")}, nil
	}
	e.create("rep", 128, 3)
	res := e.invoke("rep", "{}")
	tail := string(res.LogTail)
	lines := strings.Split(strings.TrimRight(tail, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "START RequestId: "+res.RequestID+" Version: $LATEST" ||
		lines[1] != "hello from the handler" || lines[2] != "END RequestId: "+res.RequestID {
		t.Fatalf("log tail:\n%s", tail)
	}
	r := res.Record
	want := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 128 MB\tMax Memory Used: 38 MB\tInit Duration: %.2f ms\t",
		res.RequestID, r.DurationMs, r.BilledMs, r.InitMs)
	if lines[3] != want {
		t.Errorf("REPORT line\n got %q\nwant %q", lines[3], want)
	}
	var rec scheduler.Record
	if err := json.Unmarshal([]byte(strings.TrimSpace(e.recs.String())), &rec); err != nil {
		t.Fatalf("record %q: %v", e.recs.String(), err)
	}
	if rec.RequestID != res.RequestID || rec.Function != "rep" || rec.Start != "cold" || rec.HostID != "test-host" ||
		rec.SandboxID == "" || rec.MaxMemoryUsedMB != 38 || rec.Outcome != "success" || rec.MemoryMB != 128 || rec.ColdStartMs < rec.InitMs {
		t.Errorf("record %+v", rec)
	}
}

func TestBilledDurationRounding(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 1}, {300 * time.Microsecond, 1}, {time.Millisecond, 1}, {12340 * time.Microsecond, 13},
		{13 * time.Millisecond, 13}, {13*time.Millisecond + 1, 14}, {3 * time.Second, 3000},
	} {
		if got := scheduler.BilledMs(c.d); got != c.want {
			t.Errorf("BilledMs(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	got := scheduler.FormatReport("abc", 12340*time.Microsecond, 128, 20, 5670*time.Microsecond)
	want := "REPORT RequestId: abc\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 5.67 ms\t\n"
	if got != want {
		t.Errorf("FormatReport\n got %q\nwant %q", got, want)
	}
	if got := scheduler.FormatReport("abc", 2*time.Millisecond, 256, 30, 0); strings.Contains(got, "Init") {
		t.Errorf("warm REPORT has Init Duration: %q", got)
	}
}

func TestFunctionsPersistAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	mk := func() *scheduler.Scheduler {
		cfg := scheduler.DefaultConfig()
		cfg.StateDir = dir
		cfg.RuntimeBin = "/bin/true"
		s, err := scheduler.New(cfg, schedulertest.New().Deps(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := mk()
	_, err := s.CreateFunction(context.Background(), scheduler.CreateFunctionInput{Name: "keep", Runtime: "faaslab",
		Handler: "echo", MemoryMB: 512, Environment: map[string]string{"A": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	s = mk()
	defer s.Close(context.Background())
	f, err := s.GetFunction("keep")
	if err != nil || f.MemoryMB != 512 || f.Environment["A"] != "1" || f.TimeoutSec != 3 || f.CodeSha256 == "" {
		t.Fatalf("after restart: %+v, %v", f, err)
	}
	if err := s.DeleteFunction(context.Background(), "keep"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFunction("keep"); !errors.Is(err, scheduler.ErrFunctionNotFound) {
		t.Errorf("deleted function: %v", err)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		in    scheduler.CreateFunctionInput
		field string
	}{
		{scheduler.CreateFunctionInput{Name: "bad name", Runtime: "faaslab", Handler: "echo"}, "FunctionName"},
		{scheduler.CreateFunctionInput{Name: "m", Runtime: "faaslab", Handler: "echo", MemoryMB: 64}, "MemorySize"},
		{scheduler.CreateFunctionInput{Name: "t", Runtime: "faaslab", Handler: "echo", TimeoutSec: 901}, "Timeout"},
		{scheduler.CreateFunctionInput{Name: "r", Runtime: "python3.12", Handler: "x"}, "Runtime"},
		{scheduler.CreateFunctionInput{Name: "e", Runtime: "faaslab", Handler: "echo", Environment: map[string]string{"AWS_REGION": "x"}}, "Environment"},
		{scheduler.CreateFunctionInput{Name: "p", Runtime: "provided.al2023"}, "Code"},
	}
	for _, c := range cases {
		_, err := e.s.CreateFunction(context.Background(), c.in)
		var pe *scheduler.ParamError
		if !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%+v: %v, want a %s error", c.in, err, c.field)
		}
	}
	e.create("dup", 128, 3)
	_, err := e.s.CreateFunction(context.Background(), scheduler.CreateFunctionInput{Name: "dup", Runtime: "faaslab", Handler: "echo"})
	if !errors.Is(err, scheduler.ErrFunctionExists) {
		t.Errorf("duplicate: %v", err)
	}
}

func TestSandboxIDs(t *testing.T) {
	e := newEnv(t, nil)
	name := "My_Function-" + strings.Repeat("x", 52)
	e.create(name, 128, 3)
	res := e.invoke(name, "{}")
	id := res.Record.SandboxID
	if !sandbox.ValidID(id) || !strings.HasPrefix(id, "faaslab-my-function-x") || !strings.HasSuffix(id, "-1") {
		t.Errorf("sandbox id %q", id)
	}
}

func TestDeleteFailsQueuedAndStopsSandboxes(t *testing.T) {
	e := newEnv(t, func(c *scheduler.Config) { c.Profile = testProfile(128) })
	g := newGate()
	e.fake.Handler = g.handler
	e.create("d", 128, 3)
	first := make(chan *scheduler.InvokeResult, 1)
	go func() { first <- e.invoke("d", "{}") }()
	g.wait(t, 1)
	queuedErr := make(chan error, 1)
	go func() {
		_, err := e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: "d"})
		queuedErr <- err
	}()
	eventually(t, "queued", func() bool { return gaugeValue(t, e.reg, "faaslab_queue_length", nil) == 1 })
	if err := e.s.DeleteFunction(context.Background(), "d"); err != nil {
		t.Fatal(err)
	}
	if err := <-queuedErr; !errors.Is(err, scheduler.ErrFunctionNotFound) {
		t.Errorf("queued invocation of a deleted function: %v", err)
	}
	close(g.open)
	<-first
	eventually(t, "sandbox of deleted function stopped", func() bool { return len(e.fake.Live()) == 0 })
}

func TestCloseStopsEverySandbox(t *testing.T) {
	e := newEnv(t, nil)
	g := newGate()
	e.fake.Handler = g.handler
	e.create("c1", 128, 3)
	e.create("c2", 128, 3)
	close(g.open)
	e.invoke("c1", "{}")
	e.invoke("c2", "{}")
	if len(e.fake.Live()) != 2 {
		t.Fatalf("live %d", len(e.fake.Live()))
	}
	if err := e.s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if live := e.fake.Live(); len(live) != 0 {
		t.Errorf("after Close %d sandboxes live", len(live))
	}
	if _, err := e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: "c1"}); !errors.Is(err, scheduler.ErrClosed) {
		t.Errorf("invoke after close: %v", err)
	}
}

func TestAsyncInvoke(t *testing.T) {
	e := newEnv(t, nil)
	e.create("ev", 128, 3)
	if err := e.s.InvokeAsync(&scheduler.InvokeRequest{Function: "ev", Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "event ran", func() bool { return strings.Contains(e.recs.String(), `"invocation_type":"Event"`) })
	if err := e.s.InvokeAsync(&scheduler.InvokeRequest{Function: "nope"}); !errors.Is(err, scheduler.ErrFunctionNotFound) {
		t.Errorf("unknown function: %v", err)
	}
}

func TestSpecForBuiltinAndEnvironment(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.s.CreateFunction(context.Background(), scheduler.CreateFunctionInput{Name: "sp", Runtime: "faaslab",
		Handler: "wordcount", Environment: map[string]string{"B": "2", "A": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	res := e.invoke("sp", "{}")
	spec := e.fake.Get(res.Record.SandboxID).Spec
	if strings.Join(spec.Command, " ") != "/var/runtime/bootstrap" || len(spec.Mounts) != 1 ||
		spec.Mounts[0].Target != "/var/runtime/bootstrap" || !spec.Mounts[0].ReadOnly {
		t.Errorf("spec command %v mounts %+v", spec.Command, spec.Mounts)
	}
	if spec.Env[0] != "A=1" || spec.Env[1] != "B=2" || !contains(spec.Env, "_HANDLER=wordcount") {
		t.Errorf("env %v", spec.Env)
	}
	if spec.CPUQuotaUs != 8500 || spec.MemoryBytes != 128<<20 || spec.TmpBytes != 512<<20 {
		t.Errorf("resources %+v tmp %d", spec.Resources, spec.TmpBytes)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLogDirKeepsOneStreamPerSandbox(t *testing.T) {
	logDir := t.TempDir()
	e := newEnv(t, func(c *scheduler.Config) { c.LogDir = logDir })
	e.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		sb.Log("line from the function\n")
		return runtime.Response{Payload: inv.Payload}, nil
	}
	e.create("lg", 128, 3)
	a := e.invoke("lg", "{}")
	b := e.invoke("lg", "{}")
	data, err := os.ReadFile(filepath.Join(logDir, "lg", a.Record.SandboxID+".log"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Count(text, "line from the function") != 2 || !strings.Contains(text, "REPORT RequestId: "+a.RequestID) ||
		!strings.Contains(text, "REPORT RequestId: "+b.RequestID) {
		t.Errorf("log stream:\n%s", text)
	}
}

func TestIdleSandboxThatExitsIsReplaced(t *testing.T) {
	e := newEnv(t, nil)
	e.create("x", 128, 3)
	first := e.invoke("x", "{}")
	e.fake.Get(first.Record.SandboxID).Exit(errors.New("exit status 0"))
	eventually(t, "exited idle sandbox removed", func() bool {
		return gaugeValue(t, e.reg, "faaslab_sandboxes", map[string]string{"function": "x", "state": "idle"}) == 0
	})
	second := e.invoke("x", "{}")
	if second.FunctionError || second.Record.Start != scheduler.StartCold {
		t.Errorf("after an idle exit: %s start %s", second.Payload, second.Record.Start)
	}
}

func TestCloseAbortsBusyInvocations(t *testing.T) {
	e := newEnv(t, nil)
	g := newGate()
	e.fake.Handler = g.handler
	e.create("busy", 128, 60)
	errc := make(chan error, 1)
	go func() {
		_, err := e.s.Invoke(context.Background(), &scheduler.InvokeRequest{Function: "busy"})
		errc <- err
	}()
	g.wait(t, 1)
	if err := e.s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, scheduler.ErrClosed) {
		t.Errorf("busy invocation at shutdown: %v, want ErrClosed", err)
	}
	if live := e.fake.Live(); len(live) != 0 {
		t.Errorf("%d sandboxes live after Close", len(live))
	}
}

// trash lists the directories of deleted functions not yet removed.
func (e *env) trash() []string {
	e.t.Helper()
	m, err := filepath.Glob(filepath.Join(e.cfg.StateDir, "functions", ".trash-*"))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// closeNow closes the scheduler and waits for every teardown.
func (e *env) closeNow() {
	e.t.Helper()
	if err := e.s.Close(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// warmLeavingGrant creates name, invokes it once (a warm sandbox) and takes a warm grant
// for it as dispatch hands one to a queued waiter; it returns the sandbox's id and the
// waiter's leave.
func (e *env) warmLeavingGrant(name string) (sandboxID string, leave func()) {
	e.t.Helper()
	e.create(name, 128, 3)
	sandboxID = e.invoke(name, "{}").Record.SandboxID
	cold, leave := e.s.GrantToLeavingWaiter(name)
	if cold {
		e.t.Fatal("want a warm grant")
	}
	return sandboxID, leave
}

// A queued invocation whose client leaves just as it is granted a warm sandbox hands it
// back. If the function was deleted meanwhile, the sandbox must be stopped (nothing would
// ever reap it: the reaper and Close only see registered functions) and its memory freed.
func TestLeavingWaiterStopsWarmSandboxOfDeletedFunction(t *testing.T) {
	e := newEnv(t, nil)
	id, leave := e.warmLeavingGrant("gone")
	if err := e.s.DeleteFunction(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	leave()
	e.closeNow()
	if !e.fake.Get(id).Stopped() {
		t.Errorf("sandbox %s of a deleted function handed back by a leaving waiter was never stopped", id)
	}
	if v := gaugeValue(t, e.reg, "faaslab_host_memory_reserved_bytes", nil); v != 0 {
		t.Errorf("%v bytes still reserved after Close", v)
	}
	if tr := e.trash(); len(tr) != 0 {
		t.Errorf("deleted function's files left: %v", tr)
	}
}

// After an update, a sandbox handed back by a leaving waiter must not serve the next
// invocation with the old configuration.
func TestLeavingWaiterRetiresWarmSandboxOfUpdatedFunction(t *testing.T) {
	e := newEnv(t, nil)
	old, leave := e.warmLeavingGrant("upd")
	mem := 256
	if _, err := e.s.UpdateFunctionConfiguration(context.Background(), "upd", scheduler.ConfigUpdate{MemoryMB: &mem}); err != nil {
		t.Fatal(err)
	}
	leave()
	next := e.invoke("upd", "{}")
	if next.Record.SandboxID == old || next.Record.Start != scheduler.StartCold || next.Record.MemoryMB != 256 {
		t.Errorf("after update: ran %s on %s with %d MB, want cold on a new 256 MB sandbox (old %s)",
			next.Record.Start, next.Record.SandboxID, next.Record.MemoryMB, old)
	}
	e.closeNow()
	if !e.fake.Get(old).Stopped() {
		t.Errorf("outdated sandbox %s not stopped", old)
	}
}

// A sandbox handed back after Close began is stopped, not pooled.
func TestLeavingWaiterAfterCloseStopsSandbox(t *testing.T) {
	e := newEnv(t, nil)
	id, leave := e.warmLeavingGrant("cl")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.s.Close(ctx); err == nil {
		t.Fatal("Close returned before the outstanding grant was handed back")
	}
	leave()
	e.closeNow()
	if !e.fake.Get(id).Stopped() {
		t.Errorf("sandbox %s handed back after Close was not stopped", id)
	}
}

// A cold grant handed back after its function was deleted was the function's last
// sandbox: the deleted function's files go.
func TestLeavingWaiterColdGrantOfDeletedFunctionRemovesFiles(t *testing.T) {
	e := newEnv(t, nil)
	e.create("cg", 128, 3)
	cold, leave := e.s.GrantToLeavingWaiter("cg")
	if !cold {
		t.Fatal("want a cold grant")
	}
	if err := e.s.DeleteFunction(context.Background(), "cg"); err != nil {
		t.Fatal(err)
	}
	if len(e.trash()) != 1 {
		t.Fatalf("trash %v while a cold start is granted, want the function's directory kept", e.trash())
	}
	leave()
	e.closeNow()
	if tr := e.trash(); len(tr) != 0 {
		t.Errorf("deleted function's files left after its last grant was handed back: %v", tr)
	}
	if v := gaugeValue(t, e.reg, "faaslab_host_memory_reserved_bytes", nil); v != 0 {
		t.Errorf("%v bytes still reserved", v)
	}
}

// A function that is a container image is refused where the backend cannot run images
// (every invocation would fail), and accepted where it can.
func TestImageFunctionsNeedABackendThatRunsImages(t *testing.T) {
	in := scheduler.CreateFunctionInput{Name: "img", PackageType: scheduler.PackageTypeImage,
		Code: scheduler.Code{ImageURI: "my-fn:latest"}}
	e := newEnv(t, nil)
	_, err := e.s.CreateFunction(context.Background(), in)
	var pe *scheduler.ParamError
	if !errors.As(err, &pe) || pe.Field != "PackageType" || !strings.Contains(err.Error(), "--backend docker") {
		t.Errorf("Image function on a backend without images: %v, want a PackageType error naming --backend docker", err)
	}
	e = newEnv(t, func(c *scheduler.Config) { c.ImageFunctions = true })
	if f, err := e.s.CreateFunction(context.Background(), in); err != nil || f.Image != "my-fn:latest" {
		t.Errorf("Image function on a backend with images: %+v, %v", f, err)
	}
}
