package services

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the supervised services. The service label is bounded: s3, iperf3.
type Metrics struct {
	up       *prometheus.GaugeVec
	starts   *prometheus.CounterVec
	failures *prometheus.CounterVec
}

// NewMetrics registers the services' metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "faaslab_service_processes_running",
			Help: "Supervised service processes running now (s3: 0 or 1; iperf3: servers in the pool).",
		}, []string{"service"}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaslab_service_starts_total",
			Help: "Starts of supervised service processes, restarts and iperf3 respawns included.",
		}, []string{"service"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faaslab_service_failures_total",
			Help: "Unexpected exits of supervised service processes (each is followed by a restart).",
		}, []string{"service"}),
	}
	if reg != nil {
		reg.MustRegister(m.up, m.starts, m.failures)
	}
	return m
}
