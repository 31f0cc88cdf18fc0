package progress

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTest(t *testing.T) (*Progress, *prometheus.Registry, *time.Time) {
	t.Helper()
	reg := prometheus.NewRegistry()
	p, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	return p, reg, &now
}

func TestProgressGauges(t *testing.T) {
	p, reg, now := newTest(t)
	p.Start("fig2", 3)
	p.Start("fig5", 4) // fig2's info series must go
	*now = now.Add(10 * time.Second)
	p.TrialDone()
	exp := `
# HELP faaslab_experiment_eta_seconds Estimated time until the current experiment spec finishes (0 when done).
# TYPE faaslab_experiment_eta_seconds gauge
faaslab_experiment_eta_seconds 30
# HELP faaslab_experiment_info 1 for the experiment spec running (or last run); the spec is a label.
# TYPE faaslab_experiment_info gauge
faaslab_experiment_info{spec="fig5"} 1
# HELP faaslab_experiment_trials_done Trials of the current experiment spec finished.
# TYPE faaslab_experiment_trials_done gauge
faaslab_experiment_trials_done 1
# HELP faaslab_experiment_trials_planned Trials the current experiment spec runs.
# TYPE faaslab_experiment_trials_planned gauge
faaslab_experiment_trials_planned 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exp),
		"faaslab_experiment_eta_seconds", "faaslab_experiment_info", "faaslab_experiment_trials_done", "faaslab_experiment_trials_planned"); err != nil {
		t.Error(err)
	}
	p.SetETA(5 * time.Second)
	if v := testutil.ToFloat64(p.eta); v != 5 {
		t.Errorf("eta after SetETA: %v, want 5", v)
	}
	for range 10 { // more than planned: done stays at total, eta 0
		p.TrialDone()
	}
	if d, e := testutil.ToFloat64(p.doneG), testutil.ToFloat64(p.eta); d != 4 || e != 0 {
		t.Errorf("finished: done %v eta %v, want 4 and 0", d, e)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}

func TestHandler(t *testing.T) {
	p, _, _ := newTest(t)
	h := MakeHandler(p)
	put := func(body string) int {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodPut, "/", strings.NewReader(body)))
		return rec.Code
	}
	if c := put(`{"spec":"fig5","total":26,"done":3,"eta_seconds":120}`); c != 200 {
		t.Fatalf("PUT: %d", c)
	}
	if got := p.State(); got.Spec != "fig5" || got.Total != 26 || got.Done != 3 {
		t.Errorf("state %+v", got)
	}
	if v := testutil.ToFloat64(p.eta); v != 120 {
		t.Errorf("eta %v, want 120", v)
	}
	for _, bad := range []string{`{"spec":"fig5","total":2,"done":3}`, `{"total":2}`, `{"spec":"x","total":1,"bogus":1}`} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodPut, "/", strings.NewReader(bad)))
		var doc struct{ Message string }
		// The host API's error shape ({"message": ...}), as every other host route answers.
		if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &doc) != nil || doc.Message == "" {
			t.Errorf("PUT %s: %d %s, want 400 with a JSON message", bad, rec.Code, rec.Body)
		}
	}
}
