package main

import (
	"context"
	"testing"

	"github.com/faaslab/faaslab/experiments/services/dataset"
	"github.com/faaslab/faaslab/experiments/services/wan"
	"github.com/faaslab/faaslab/runtime/handlers"
)

// wanGet starts a daemon with extra flags, GETs a 10 MB dataset object with s3get from a
// 1024 MB function (policy none) and returns the answer and the WAN status.
func wanGet(t *testing.T, extra ...string) (handlers.S3Response, wan.Status) {
	t.Helper()
	d := launchDaemon(t, extra...)
	ctx := context.Background()
	st, err := d.client.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set, err := d.client.EnsureDataSet(ctx, "10mb", 1)
	if err != nil || len(set.Objects) != 1 {
		t.Fatalf("data: %+v %v", set, err)
	}
	d.s3Function("s3get", "s3get", 1024)
	out := d.s3Invoke("s3get", handlers.S3Request{Bucket: dataset.DefaultBucket, Key: set.Objects[0].Key})
	if out.Bytes != set.Objects[0].Bytes {
		t.Fatalf("GET %d bytes, manifest %d", out.Bytes, set.Objects[0].Bytes)
	}
	d.stop()
	return out, st.WAN
}

// TestE2EWANModel: with services.wan at RTT 100 ms and 40 Mbit/s per connection, a 10 MB
// GET from inside a sandbox takes at least 10e6·8/40e6 = 2 s and its first byte at least
// one RTT; the same GET without the WAN is faster. Lower bounds and a ratio only.
func TestE2EWANModel(t *testing.T) {
	skipHeavy(t, "two daemons with the S3 store")
	const rtt, bits = 0.1, 40e6
	slow, st := wanGet(t, "--wan-rtt", "100ms", "--wan-rate", "40mbit")
	if st.Impl != wan.ImplListener || st.RTTSeconds != rtt || st.RatePerConnection != bits {
		t.Errorf("services wan: %+v, want impl listener, rtt 0.1 s, 40 Mbit/s", st)
	}
	fast, st0 := wanGet(t)
	if st0.Impl != wan.ImplOff {
		t.Errorf("services wan without config: %+v, want impl off", st0)
	}
	t.Logf("10 MB GET with WAN (100 ms, 40 Mbit/s): %.2f s, ttfb %.3f s, %.1f MB/s; without: %.2f s, ttfb %.4f s, %.1f MB/s; time ratio %.1f",
		slow.Seconds, slow.TTFBSeconds, slow.MBPerSec, fast.Seconds, fast.TTFBSeconds, fast.MBPerSec, slow.Seconds/fast.Seconds)
	if min := float64(slow.Bytes) * 8 / bits; slow.Seconds < min {
		t.Errorf("GET with WAN took %.2f s, want ≥ %.2f s (bytes / rate)", slow.Seconds, min)
	}
	if slow.TTFBSeconds < rtt {
		t.Errorf("ttfb with WAN %.3f s, want ≥ RTT %.1f s", slow.TTFBSeconds, rtt)
	}
	if fast.Seconds >= slow.Seconds {
		t.Errorf("without the WAN the GET took %.2f s, with it %.2f s: want faster", fast.Seconds, slow.Seconds)
	}
}
