package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/scheduler"
	"github.com/faaslab/faaslab/scheduler/schedulertest"
)

// attempts records when each payload reached a handler (on synctest's fake clock).
type attempts struct {
	mu    sync.Mutex
	start time.Time
	at    map[string][]time.Duration
}

func newAttempts() *attempts { return &attempts{start: time.Now(), at: map[string][]time.Duration{}} }

// handler fails while fail(key, attempt) says so (attempt counts from 1).
func (a *attempts) handler(fail func(key string, attempt int) bool) schedulertest.Handler {
	return func(_ context.Context, _ *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		a.mu.Lock()
		key := string(inv.Payload)
		a.at[key] = append(a.at[key], time.Since(a.start))
		n := len(a.at[key])
		a.mu.Unlock()
		if fail(key, n) {
			return runtime.Response{FunctionError: true, ErrorType: "Flaky",
				Payload: []byte(`{"errorMessage":"first try fails","errorType":"Flaky"}`)}, nil
		}
		return runtime.Response{Payload: inv.Payload}, nil
	}
}

func (a *attempts) of(key string) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Duration(nil), a.at[key]...)
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEventRetriedAfterFunctionError: an Event invocation whose handler fails the first
// time is retried after EventRetryDelay (1 minute, Lambda's) and then succeeds. synctest's
// clock makes the minute instant and the times exact.
func TestEventRetriedAfterFunctionError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		a := newAttempts()
		e.fake.Handler = a.handler(func(_ string, n int) bool { return n == 1 })
		e.create("ev", 128, 3)
		if err := e.s.InvokeAsync(&scheduler.InvokeRequest{Function: "ev", Payload: []byte(`"k1"`)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got, want := a.of(`"k1"`), []time.Duration{0, time.Minute}; !equalDurations(got, want) {
			t.Fatalf("attempts at %v, want %v (fail, then retry after 1 minute)", got, want)
		}
	})
}

// TestEventRetryLimits: by default a failing event runs 3 times (retries after 1 and 2
// minutes); MaximumRetryAttempts 0 runs it once; MaximumEventAgeInSeconds 60 stops
// before the 2-minute retry would start past the age.
func TestEventRetryLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		a := newAttempts()
		e.fake.Handler = a.handler(func(string, int) bool { return true })
		for _, name := range []string{"def", "zero", "young"} {
			e.create(name, 128, 3)
		}
		zero, sixty := 0, 60
		if _, err := e.s.PutFunctionEventInvokeConfig("zero", scheduler.EventInvokeConfig{MaximumRetryAttempts: &zero}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.PutFunctionEventInvokeConfig("young", scheduler.EventInvokeConfig{MaximumEventAgeInSeconds: &sixty}, false); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"def", "zero", "young"} {
			if err := e.s.InvokeAsync(&scheduler.InvokeRequest{Function: name, Payload: []byte(`"` + name + `"`)}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		for name, want := range map[string][]time.Duration{
			"def":   {0, time.Minute, 3 * time.Minute},
			"zero":  {0},
			"young": {0, time.Minute},
		} {
			if got := a.of(`"` + name + `"`); !equalDurations(got, want) {
				t.Errorf("%s: attempts at %v, want %v", name, got, want)
			}
		}
	})
}

func TestEventInvokeConfigValidationAndRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	e.create("c", 128, 3)
	three, fifty, one := 3, 50, 1
	for _, c := range []scheduler.EventInvokeConfig{{MaximumRetryAttempts: &three}, {MaximumEventAgeInSeconds: &fifty}} {
		if _, err := e.s.PutFunctionEventInvokeConfig("c", c, false); !errors.Is(err, scheduler.ErrInvalidParameter) {
			t.Errorf("out of range %+v: %v", c, err)
		}
	}
	if _, err := e.s.GetFunctionEventInvokeConfig("c"); !errors.Is(err, scheduler.ErrNoEventInvokeConfig) {
		t.Errorf("Get before Put: %v", err)
	}
	if _, err := e.s.PutFunctionEventInvokeConfig("c", scheduler.EventInvokeConfig{MaximumRetryAttempts: &one}, true); !errors.Is(err, scheduler.ErrNoEventInvokeConfig) {
		t.Errorf("Update before Put: %v, want ErrNoEventInvokeConfig", err)
	}
	if _, err := e.s.PutFunctionEventInvokeConfig("c", scheduler.EventInvokeConfig{MaximumRetryAttempts: &one}, false); err != nil {
		t.Fatal(err)
	}
	sixty := 60
	got, err := e.s.PutFunctionEventInvokeConfig("c", scheduler.EventInvokeConfig{MaximumEventAgeInSeconds: &sixty}, true)
	if err != nil || got.MaximumRetryAttempts == nil || *got.MaximumRetryAttempts != 1 || *got.MaximumEventAgeInSeconds != 60 {
		t.Fatalf("merge (Update): %+v %v, want retries 1 and age 60", got, err)
	}
	if err := e.s.DeleteFunctionEventInvokeConfig("c"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.GetFunctionEventInvokeConfig("c"); !errors.Is(err, scheduler.ErrNoEventInvokeConfig) {
		t.Errorf("Get after Delete: %v", err)
	}
}
