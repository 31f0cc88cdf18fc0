package netshape

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkAttachDetach measures the network part of a cold start (Attach) and of a
// sandbox's removal (Detach) into a netns that already exists, as the sandbox backend's
// is when netshape is called. Reports attach-µs and detach-µs per op separately.
func BenchmarkAttachDetach(b *testing.B) {
	requireRoot(b)
	cfg := testConfig(b)
	h := newTestHost(b, cfg)
	ns := newTestNetNS(b, cfg, 0)
	ctx := context.Background()
	var attach, detach time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("faaslab-bench-%d", i)
		t0 := time.Now()
		if _, err := h.Attach(ctx, Endpoint{SandboxID: id, Function: "f", MemoryMB: 128, NetNSPath: ns}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := h.Detach(ctx, id); err != nil {
			b.Fatal(err)
		}
		attach += t1.Sub(t0)
		detach += time.Since(t1)
	}
	b.ReportMetric(float64(attach.Microseconds())/float64(b.N), "attach-µs/op")
	b.ReportMetric(float64(detach.Microseconds())/float64(b.N), "detach-µs/op")
}

// BenchmarkSample measures one counter sample with 26 sandboxes attached (the paper's
// largest co-location).
func BenchmarkSample(b *testing.B) {
	requireRoot(b)
	cfg := testConfig(b)
	h := newTestHost(b, cfg)
	for i := range 26 {
		ns := newTestNetNS(b, cfg, i)
		if _, err := h.Attach(context.Background(), Endpoint{SandboxID: fmt.Sprintf("faaslab-s%d", i), Function: "f", NetNSPath: ns}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		s, err := h.Sample()
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Sandboxes) != 26 {
			b.Fatalf("sample has %d sandboxes, want 26", len(s.Sandboxes))
		}
	}
}
