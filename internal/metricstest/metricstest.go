// Package metricstest reads single samples out of a Prometheus registry for tests that
// cannot compare a whole exposition (byte counters, values that depend on the kernel).
// Exact expectations should use prometheus/testutil (GatherAndCompare, ToFloat64,
// GatherAndLint) directly.
package metricstest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Value is the value of the one sample of family name whose labels include labels
// (counter, gauge or untyped; a histogram's sample count). It fails the test when
// there is none, or more than one.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels prometheus.Labels) float64 {
	t.Helper()
	v, err := Find(g, name, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ValueOr is Value, but a missing sample reads as def (a labelled series that was never
// touched does not exist yet).
func ValueOr(t testing.TB, g prometheus.Gatherer, name string, labels prometheus.Labels, def float64) float64 {
	t.Helper()
	v, err := Find(g, name, labels)
	if errors.Is(err, errNotFound) {
		return def
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var errNotFound = errors.New("metric not found")

// Find is Value without a testing.TB.
func Find(g prometheus.Gatherer, name string, labels prometheus.Labels) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, fmt.Errorf("gather: %w", err)
	}
	var found []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				found = append(found, m)
			}
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%s%v: %w", name, labels, errNotFound)
	case 1:
		m := found[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), nil
		case m.Gauge != nil:
			return m.Gauge.GetValue(), nil
		case m.Untyped != nil:
			return m.Untyped.GetValue(), nil
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), nil
		}
		return 0, fmt.Errorf("%s%v: unsupported metric type", name, labels)
	}
	return 0, fmt.Errorf("%s%v: %d samples match, want 1 (add labels)", name, labels, len(found))
}

func matches(m *dto.Metric, want prometheus.Labels) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}
