// Package progress exports an experiment's progress as Prometheus gauges: which spec
// runs, how many trials are planned and done, and when it should end.
//
//	faaslab_experiment_info{spec}            1 for the spec running (or last run)
//	faaslab_experiment_trials_planned        trials of the current spec
//	faaslab_experiment_trials_done           trials finished
//	faaslab_experiment_eta_seconds           estimated time left (0 when done)
//	faaslab_experiment_start_time_seconds    Unix time the spec started
//
// The runner calls Start, TrialDone after every trial and, when it knows better than the
// average trial time, SetETA. A runner in another process reports through the daemon's
// host API instead (Handler), so one Prometheus scrape shows the daemon and the run.
package progress

import (
	"fmt"
	"sync"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/prometheus/client_golang/prometheus"
)

// Progress is safe for concurrent use. The zero value is not usable: call New.
type Progress struct {
	mu      sync.Mutex
	now     func() time.Time
	spec    string
	total   int
	done    int
	started time.Time

	info      *prometheus.GaugeVec
	planned   prometheus.Gauge
	doneG     prometheus.Gauge
	eta       prometheus.Gauge
	startTime prometheus.Gauge
}

// New registers the progress gauges on reg (nil = a private registry).
func New(reg prometheus.Registerer) (*Progress, error) {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	p := &Progress{
		now: time.Now,
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "faaslab_experiment_info",
			Help: "1 for the experiment spec running (or last run); the spec is a label.",
		}, []string{"spec"}),
		planned: gauge("faaslab_experiment_trials_planned",
			"Trials the current experiment spec runs."),
		doneG: gauge("faaslab_experiment_trials_done",
			"Trials of the current experiment spec finished."),
		eta: gauge("faaslab_experiment_eta_seconds",
			"Estimated time until the current experiment spec finishes (0 when done)."),
		startTime: gauge("faaslab_experiment_start_time_seconds",
			"Unix time the current experiment spec started."),
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	for _, c := range []prometheus.Collector{p.info, p.planned, p.doneG, p.eta, p.startTime} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register experiment progress metrics: %w", err)
		}
	}
	return p, nil
}

// Start begins a spec of total trials; the previous spec's info series goes away.
func (p *Progress) Start(spec string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spec, p.total, p.done, p.started = spec, max(total, 0), 0, p.now()
	p.info.Reset()
	p.info.WithLabelValues(spec).Set(1)
	p.planned.Set(float64(p.total))
	p.doneG.Set(0)
	p.eta.Set(0)
	p.startTime.Set(float64(p.started.UnixNano()) / 1e9)
}

// TrialDone counts one finished trial and re-estimates the time left from the average
// trial so far.
func (p *Progress) TrialDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done < p.total {
		p.done++
	}
	p.doneG.Set(float64(p.done))
	p.eta.Set(p.estimateLocked().Seconds())
}

// SetETA overrides the estimate (until the next TrialDone).
func (p *Progress) SetETA(d time.Duration) {
	p.eta.Set(max(d, 0).Seconds())
}

func (p *Progress) estimateLocked() time.Duration {
	if p.done == 0 || p.done >= p.total {
		return 0
	}
	perTrial := p.now().Sub(p.started) / time.Duration(p.done)
	return perTrial * time.Duration(p.total-p.done)
}

// State is a snapshot of the progress: the host API's wire type, defined once in client.
type State = client.ExperimentProgress

// State returns the current progress.
func (p *Progress) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Spec: p.spec, Total: p.total, Done: p.done, ETASeconds: p.estimateLocked().Seconds()}
}

// Set replaces the progress with s (a runner in another process reports this way).
func (p *Progress) Set(s State) error {
	if s.Spec == "" || s.Total < 0 || s.Done < 0 || s.Done > s.Total || s.ETASeconds < 0 {
		return fmt.Errorf("progress %+v: need a spec and 0 ≤ done ≤ total, eta_seconds ≥ 0", s)
	}
	p.mu.Lock()
	if s.Spec != p.spec || s.Total != p.total || s.Done < p.done {
		p.mu.Unlock()
		p.Start(s.Spec, s.Total)
		p.mu.Lock()
	}
	p.done = s.Done
	p.doneG.Set(float64(p.done))
	eta := time.Duration(s.ETASeconds * float64(time.Second))
	if s.ETASeconds == 0 {
		eta = p.estimateLocked()
	}
	p.mu.Unlock()
	p.SetETA(eta)
	return nil
}
