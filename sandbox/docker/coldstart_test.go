package docker

import (
	"context"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/stats"
)

// BenchmarkColdStart reports the medians of the backend's cold start and of a raw
// `docker create && docker start` of the same image, and their ratio (target ≤ 1.15).
func BenchmarkColdStart(b *testing.B) {
	be := newTestBackend(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := max(b.N, 5)
	b.ResetTimer()
	backendNs, rawNs, err := be.MeasureColdStart(ctx, n)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	ratio, err := ColdStartRatio(backendNs, rawNs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(stats.DurationQuantile(backendNs, 0.5).Microseconds())/1000, "backend-ms")
	b.ReportMetric(float64(stats.DurationQuantile(rawNs, 0.5).Microseconds())/1000, "raw-ms")
	b.ReportMetric(ratio, "ratio")
}

// TestMeasureColdStart checks the measurement itself: n samples each, all positive, and
// nothing left behind.
func TestMeasureColdStart(t *testing.T) {
	be := newTestBackend(t)
	backendNs, rawNs, err := be.MeasureColdStart(ctxT(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(backendNs) != 2 || len(rawNs) != 2 {
		t.Fatalf("samples: %d backend, %d raw; want 2 each", len(backendNs), len(rawNs))
	}
	for i := range backendNs {
		if backendNs[i] <= 0 || rawNs[i] <= 0 {
			t.Errorf("sample %d: backend %v raw %v", i, backendNs[i], rawNs[i])
		}
	}
	list := leftContainers(t, be)
	if len(list) != 0 {
		t.Errorf("containers left after measuring: %v", list)
	}
}
