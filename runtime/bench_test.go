package runtime

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchRoundTrips drives b.N invocations through ep and reports latency percentiles
// alongside ns/op (the per-invocation cost at the loop's own concurrency of one).
func benchRoundTrips(b *testing.B, ep *Endpoint) {
	b.Helper()
	ctx := context.Background()
	payload := []byte(`{"noop":true}`)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		r, err := ep.Invoke(ctx, Invocation{RequestID: "bench", Payload: payload})
		if err != nil || !bytes.Equal(r.Payload, payload) {
			b.Fatalf("Invoke = %q, %v", r.Payload, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkRoundTrip: Endpoint.Invoke against this package's Client (the faaslab-runtime
// loop) over loopback: GET /next, echo, POST /response.
func BenchmarkRoundTrip(b *testing.B) {
	f := newFixture(b)
	ctx, cancel := context.WithCancel(context.Background())
	c := NewClient(f.addr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Serve(ctx, func(_ context.Context, p []byte) ([]byte, error) { return p, nil })
	}()
	<-f.ep.Ready()
	benchRoundTrips(b, f.ep)
	cancel()
	<-done
	c.Close()
}

// BenchmarkRoundTripNetHTTP: the same loop with a net/http client, as runtimes such as
// aws-lambda-go do it.
func BenchmarkRoundTripNetHTTP(b *testing.B) {
	f := newFixture(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		base := f.url + APIVersionPath + "/invocation/"
		for {
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"next", nil)
			resp, err := hc.Do(req)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return
			}
			id := resp.Header.Get(HeaderRequestID)
			resp, err = hc.Post(base+id+"/response", "application/json", bytes.NewReader(body))
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-f.ep.Ready()
	benchRoundTrips(b, f.ep)
	cancel()
	<-done
}

// BenchmarkRoundTripParallel: throughput with 4 sandboxes (Client loops) invoked
// concurrently, as a host with several warm sandboxes sees it.
func BenchmarkRoundTripParallel(b *testing.B) {
	const sandboxes = 4
	srv := NewServer(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eps := make(chan *Endpoint, sandboxes)
	var loops []chan struct{}
	for i := range sandboxes {
		id := testSandboxID(b) + strconv.Itoa(i)
		ep := srv.Register(id, netip.Addr{})
		ts := httptest.NewServer(srv.HandlerFor(id))
		b.Cleanup(ts.Close)
		b.Cleanup(func() { srv.Unregister(id) })
		c := NewClient(strings.TrimPrefix(ts.URL, "http://"))
		done := make(chan struct{})
		loops = append(loops, done)
		go func() {
			defer close(done)
			_ = c.Serve(ctx, func(_ context.Context, p []byte) ([]byte, error) { return p, nil })
			c.Close()
		}()
		<-ep.Ready()
		eps <- ep
	}
	payload := []byte(`{"noop":true}`)
	start := time.Now()
	b.ResetTimer()
	b.SetParallelism(2) // 2×GOMAXPROCS callers for 4 sandboxes
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ep := <-eps
			_, err := ep.Invoke(ctx, Invocation{Payload: payload})
			eps <- ep
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "inv/s")
	cancel()
	for _, done := range loops {
		<-done
	}
}
