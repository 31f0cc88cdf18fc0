package scheduler

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scheduler's Prometheus series, registered on the caller's registry.
type metrics struct {
	invocations   *prometheus.CounterVec   // function, outcome, start
	duration      *prometheus.HistogramVec // function
	sandboxes     *prometheus.GaugeVec     // function, state
	coldStart     *prometheus.HistogramVec // function
	queueLength   prometheus.Gauge
	queueWait     prometheus.Histogram
	memoryUsed    prometheus.Gauge
	memoryProfile prometheus.Gauge
	evictions     prometheus.Counter
	billed        *prometheus.CounterVec // function
	resources     *resourceCollector
}

// durationBuckets go from 100 µs to MaxTimeoutSec (900 s), each ~2.4× the last: warm
// no-ops sit at the bottom, invocations near the timeout in the top finite bucket, not +Inf.
var durationBuckets = timeoutBuckets()

func timeoutBuckets() []float64 {
	b := prometheus.ExponentialBucketsRange(0.0001, MaxTimeoutSec, 19)
	b[len(b)-1] = MaxTimeoutSec // exactly: the growth factor's rounding leaves 899.99…
	return b
}

func newMetrics(reg prometheus.Registerer, s *Scheduler) (*metrics, error) {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	functionDurations := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, []string{"function"})
	}
	m := &metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaslab_invocations_total",
			Help: "Invocations by function, outcome (success, function_error, timeout, crash, oom, init_error, throttled, error) and start (cold, warm, none).",
		}, []string{"function", "outcome", "start"}),
		duration: functionDurations("faaslab_invocation_duration_seconds",
			"Invocation duration as in the REPORT line (init excluded)."),
		sandboxes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "faaslab_sandboxes",
			Help: "Live sandboxes by function and state (idle, busy, starting).",
		}, []string{"function", "state"}),
		coldStart: functionDurations("faaslab_cold_start_duration_seconds",
			"Cold start: sandbox create, network attach, start, until the runtime is ready."),
		queueLength: gauge("faaslab_queue_length",
			"Invocations waiting for a sandbox (host memory full or reserved concurrency reached)."),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "faaslab_queue_wait_seconds",
			Help:    "Time queued invocations waited for a sandbox.",
			Buckets: durationBuckets,
		}),
		memoryUsed: gauge("faaslab_host_memory_reserved_bytes",
			"Sum of MemorySize of live sandboxes (placement keeps it within the profile)."),
		memoryProfile: gauge("faaslab_host_memory_profile_bytes",
			"Memory of the emulated host profile."),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "faaslab_sandbox_evictions_total",
			Help: "Idle sandboxes stopped early to make room for another function.",
		}),
		// Base units: Lambda's GB-seconds are this / 2^30 (MemorySize counts MiB).
		billed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaslab_billed_byte_seconds_total",
			Help: "Billed duration × configured memory, in byte-seconds (divide by 2^30 for Lambda's GB-seconds).",
		}, []string{"function"}),
		resources: newResourceCollector(s),
	}
	if reg == nil {
		reg = prometheus.NewRegistry() // metrics still work, nobody scrapes them
	}
	for _, c := range []prometheus.Collector{m.invocations, m.duration, m.sandboxes, m.coldStart,
		m.queueLength, m.queueWait, m.memoryUsed, m.memoryProfile, m.evictions, m.billed, m.resources} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register scheduler metrics: %w", err)
		}
	}
	return m, nil
}

// forgetFunction deletes every series of a function that is gone (deleted, no sandbox
// left): a function created later under the same name starts from zero.
func (m *metrics) forgetFunction(name string) {
	fn := prometheus.Labels{"function": name}
	m.invocations.DeletePartialMatch(fn)
	m.duration.DeletePartialMatch(fn)
	m.sandboxes.DeletePartialMatch(fn)
	m.coldStart.DeletePartialMatch(fn)
	m.billed.DeletePartialMatch(fn)
	m.resources.forgetFunction(name)
}

// fnMetrics caches one function's label children so the hot path skips label hashing.
type fnMetrics struct {
	idle, busy, starting prometheus.Gauge
	duration             prometheus.Observer
	coldStart            prometheus.Observer
	successWarm          prometheus.Counter
	successCold          prometheus.Counter
	billed               prometheus.Counter
}

func (m *metrics) forFunction(name string) fnMetrics {
	return fnMetrics{
		idle:        m.sandboxes.WithLabelValues(name, "idle"),
		busy:        m.sandboxes.WithLabelValues(name, "busy"),
		starting:    m.sandboxes.WithLabelValues(name, "starting"),
		duration:    m.duration.WithLabelValues(name),
		coldStart:   m.coldStart.WithLabelValues(name),
		successWarm: m.invocations.WithLabelValues(name, OutcomeSuccess, StartWarm),
		successCold: m.invocations.WithLabelValues(name, OutcomeSuccess, StartCold),
		billed:      m.billed.WithLabelValues(name),
	}
}

func (m *metrics) countInvocation(fm *fnMetrics, function, outcome, start string) {
	switch {
	case outcome == OutcomeSuccess && start == StartWarm && fm != nil:
		fm.successWarm.Inc()
	case outcome == OutcomeSuccess && start == StartCold && fm != nil:
		fm.successCold.Inc()
	default:
		m.invocations.WithLabelValues(function, outcome, start).Inc()
	}
}

// countBilled adds the invocation's billed duration × memory.
func (m *metrics) countBilled(fm *fnMetrics, rec *Record) {
	if rec.BilledMs <= 0 || rec.MemoryMB <= 0 {
		return
	}
	v := float64(rec.BilledMs) / 1000 * float64(int64(rec.MemoryMB)<<20)
	if fm != nil {
		fm.billed.Add(v)
		return
	}
	m.billed.WithLabelValues(rec.Function).Add(v)
}
