package api_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// benchClient keeps enough idle connections for RunParallel's goroutines.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

func warmInvoke(b *testing.B, c *http.Client, url string, payload []byte) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkWarmInvokeLatency: one client, sequential warm no-op invocations through the
// HTTP API against the fake backend; reports p50/p99 per invocation.
func BenchmarkWarmInvokeLatency(b *testing.B) {
	a := newTestAPI(b, nil)
	a.create("noop", nil)
	url := a.srv.URL + "/2015-03-31/functions/noop/invocations"
	c := benchClient()
	payload := []byte(`{}`)
	warmInvoke(b, c, url, payload) // cold start outside the timing
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		warmInvoke(b, c, url, payload)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkWarmInvokeThroughput: concurrent clients (RunParallel) invoking one function;
// the scheduler makes one sandbox per concurrent request, then keeps them all warm.
func BenchmarkWarmInvokeThroughput(b *testing.B) {
	a := newTestAPI(b, nil)
	a.create("noop", nil)
	url := a.srv.URL + "/2015-03-31/functions/noop/invocations"
	c := benchClient()
	payload := []byte(`{}`)
	warmInvoke(b, c, url, payload)
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			warmInvoke(b, c, url, payload)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "invocations/s")
}
