package wan

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	m, err := Config{RTT: 40 * time.Millisecond, RatePerConnection: "100mbit"}.Parse()
	if err != nil || m.RTT != 40*time.Millisecond || m.BitsPerSec != 100e6 || m.Impl() != ImplListener {
		t.Fatalf("got %+v %v", m, err)
	}
	if m, err := (Config{}).Parse(); err != nil || m.Enabled() || m.Impl() != ImplOff || m.Status().Covers != "" {
		t.Fatalf("zero config: %+v %v", m, err)
	}
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{RTT: -time.Millisecond}, "services.wan.rtt"},
		{Config{RatePerConnection: "fast"}, "services.wan.rate_per_connection"},
		{Config{RatePerConnection: "100bit"}, "services.wan.rate_per_connection"},
	} {
		_, err := c.cfg.Parse()
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: want an error naming %s, got %v", c.cfg, c.field, err)
		}
	}
}

// pair is a wrapped server end and a plain client end over loopback.
func pair(t *testing.T, m Model) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wl := Listener(ln, m)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := wl.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestConnRate: 1 MB each way over a wrapped connection goes no faster than the rate
// (measured bytes over measured time; a lower bound on time, so a slow machine cannot
// fail it).
func TestConnRate(t *testing.T) {
	const size, bits = 1 << 20, 40e6
	m := Model{RTT: 20 * time.Millisecond, BitsPerSec: bits}
	for _, dir := range []string{"server writes", "server reads"} {
		server, client := pair(t, m)
		src, dst := server, client
		if dir == "server reads" {
			src, dst = client, server
		}
		start := time.Now()
		go func() { src.Write(make([]byte, size)); src.Close() }()
		n, err := io.Copy(io.Discard, dst)
		elapsed := time.Since(start)
		if err != nil || n != size {
			t.Fatalf("%s: %d bytes, %v", dir, n, err)
		}
		got := float64(n) * 8 / elapsed.Seconds()
		t.Logf("%s: 1 MiB in %s = %.1f Mbit/s (configured %.0f)", dir, elapsed, got/1e6, bits/1e6)
		if got > 1.05*bits {
			t.Errorf("%s: %.1f Mbit/s, want ≤ 1.05 × %.0f", dir, got/1e6, bits/1e6)
		}
	}
}

// TestConnFirstByte: a request reaches the server no earlier than RTT/2 after it was
// sent, and its answer's first byte reaches the client no earlier than one RTT after.
func TestConnFirstByte(t *testing.T) {
	const rtt = 100 * time.Millisecond
	server, client := pair(t, Model{RTT: rtt})
	start := time.Now()
	client.Write([]byte("GET"))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatal(err)
	}
	if got := time.Since(start); got < rtt/2 {
		t.Errorf("request read after %s, want ≥ RTT/2 = %s", got, rtt/2)
	}
	server.Write([]byte("200"))
	if _, err := io.ReadFull(client, buf); err != nil {
		t.Fatal(err)
	}
	if got := time.Since(start); got < rtt {
		t.Errorf("answer's first byte after %s, want ≥ RTT = %s", got, rtt)
	}
	// A second exchange on the same connection pays the RTT again.
	start = time.Now()
	client.Write([]byte("GET"))
	io.ReadFull(server, buf)
	server.Write([]byte("200"))
	io.ReadFull(client, buf)
	if got := time.Since(start); got < rtt {
		t.Errorf("second exchange took %s, want ≥ RTT = %s", got, rtt)
	}
}

// helloBehindListener is an HTTP server answering "hello" and a loopback listener for a
// Proxy in front of it; both end with the test.
func helloBehindListener(t *testing.T) (*httptest.Server, net.Listener) {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	t.Cleanup(backend.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return backend, ln
}

// TestProxy: an HTTP server behind Proxy answers through it, one RTT late at least.
func TestProxy(t *testing.T) {
	const rtt = 60 * time.Millisecond
	backend, ln := helloBehindListener(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Proxy(ctx, ln, Model{RTT: rtt, BitsPerSec: 1e6}, func() (net.Conn, error) {
			return net.Dial("tcp", backend.Listener.Addr().String())
		})
	}()
	start := time.Now()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Errorf("body %q", body)
	}
	if got := time.Since(start); got < rtt {
		t.Errorf("answer after %s, want ≥ RTT = %s", got, rtt)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("proxy: %v", err)
	}
}

// emfileOnce fails its first Accept as accept4 does when the process is out of file
// descriptors, then accepts from the real listener.
type emfileOnce struct {
	net.Listener
	failed atomic.Bool
}

func (l *emfileOnce) Accept() (net.Conn, error) {
	if !l.failed.Swap(true) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestProxyRetriesTemporaryAcceptError: an EMFILE from accept does not end Proxy (which
// would leave the listener open and its clients hanging); the next client is served.
func TestProxyRetriesTemporaryAcceptError(t *testing.T) {
	backend, ln := helloBehindListener(t)
	defer ln.Close() // unblocks the client below should Proxy have returned
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Proxy(ctx, &emfileOnce{Listener: ln}, Model{}, func() (net.Conn, error) {
			return net.Dial("tcp", backend.Listener.Addr().String())
		})
	}()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		got <- result{string(body), err}
	}()
	select {
	case err := <-done:
		t.Fatalf("proxy ended on a temporary accept error: %v", err)
	case r := <-got:
		if r.err != nil || r.body != "hello" {
			t.Fatalf("GET through the proxy: %q %v", r.body, r.err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("proxy: %v", err)
	}
}
