// Package wire holds what the faasbench generator, proxy and targets share: the paper's
// JSON messages (field names prefixed by the component that made them) and a meter that
// counts an HTTP exchange's bytes as they cross the socket.
//
// The meter wraps the net.Conn an http.Transport dials, so what it counts is what the
// kernel was handed and gave back: the request line and headers up to the blank line,
// then the body as framed on the wire (chunk sizes included). It assumes one exchange per
// connection (transports built by NewMeteredClient disable keep-alive), which is also what
// makes every call pay the same connection set-up.
package wire

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// Request is the generator's message to the proxy (the paper's request).
type Request struct {
	UUID      string          `json:"faasbench_workload_uuid"`
	TargetURI string          `json:"target_uri"`
	Data      json.RawMessage `json:"faasbench_workload_data"`
}

// TargetResult is what an instrumented target answers (non-productive TCFs).
type TargetResult struct {
	StartTime     int64           `json:"target_start_time"` // epoch ms
	StopTime      int64           `json:"target_stop_time"`  // epoch ms
	RunTimeHrSec  int64           `json:"target_run_time_hr_seconds"`
	RunTimeHrNsec int64           `json:"target_run_time_hr_nanoseconds"`
	Result        json.RawMessage `json:"target_workload_result"`
	// Epoch nanoseconds of the same instants: ms are too coarse for transmission times.
	StartTimeNs int64 `json:"target_start_time_ns"`
	StopTimeNs  int64 `json:"target_stop_time_ns"`
}

// Response is the proxy's answer: the paper's fields plus the proxy's own measurements.
type Response struct {
	UUID string `json:"proxy_workload_uuid"`
	TargetResult
	// TargetTiming says where the target_* times come from: "target" (it reported them)
	// or "proxy" (a plain target: the proxy's first byte sent to last byte received).
	TargetTiming     string `json:"proxy_target_timing"`
	TargetStatusCode int    `json:"proxy_target_status_code"`
	TargetRequestID  string `json:"proxy_target_request_id,omitempty"` // x-amzn-RequestId of the target's answer
	Error            string `json:"proxy_error,omitempty"`

	StartTime     int64 `json:"proxy_start_time"` // epoch ms
	StopTime      int64 `json:"proxy_stop_time"`
	RunTimeHrSec  int64 `json:"proxy_run_time_hr_seconds"`
	RunTimeHrNsec int64 `json:"proxy_run_time_hr_nanoseconds"`

	// m2: the request the proxy sent to the target; m3: the response it received.
	M2 Exchange `json:"proxy_m2"`
	M3 Exchange `json:"proxy_m3"`
}

// Exchange is one direction of an HTTP exchange as counted on the socket.
type Exchange struct {
	HeaderBytes int64 `json:"header_bytes"`
	BodyBytes   int64 `json:"body_bytes"`
	FirstByteNs int64 `json:"first_byte_ns"` // epoch ns of the first byte written/read
	LastByteNs  int64 `json:"last_byte_ns"`
}

// TransmissionMs is first to last byte, in ms.
func (e Exchange) TransmissionMs() float64 { return float64(e.LastByteNs-e.FirstByteNs) / 1e6 }

// HrTime splits d into the [seconds, nanoseconds] tuple of Node's process.hrtime.
func HrTime(d time.Duration) (sec, nsec int64) {
	return int64(d / time.Second), int64(d % time.Second)
}

// Direction counts one direction of a connection and finds the end of the HTTP header
// (the first CRLFCRLF).
type Direction struct {
	bytes, header int64
	headerDone    bool
	last4         uint32
	first, last   time.Time
}

// add counts b, handed to the socket at start (a write: before the syscall, since the
// answer may come back before it returns) and done at end.
func (d *Direction) add(b []byte, start, end time.Time) {
	if len(b) == 0 {
		return
	}
	if d.bytes == 0 {
		d.first = start
	}
	d.last = end
	if !d.headerDone {
		for i, c := range b {
			d.last4 = d.last4<<8 | uint32(c)
			if d.last4 == 0x0d0a0d0a { // \r\n\r\n
				d.headerDone = true
				d.header = d.bytes + int64(i) + 1
				break
			}
		}
	}
	d.bytes += int64(len(b))
}

// Exchange reports what was counted: without a complete header everything is header.
func (d *Direction) Exchange() Exchange {
	e := Exchange{HeaderBytes: d.bytes, FirstByteNs: ns(d.first), LastByteNs: ns(d.last)}
	if d.headerDone {
		e.HeaderBytes, e.BodyBytes = d.header, d.bytes-d.header
	}
	return e
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Meter counts the bytes of every connection a metered client dials. With keep-alive off
// and one request per client call, Sent is the request and Received the response.
type Meter struct {
	mu       sync.Mutex
	sent     Direction
	received Direction
	conns    int
	// writing counts Writes in progress: the transport writes from its own goroutine and
	// the answer can arrive before that Write returns, so Sent waits for it.
	writing int
	wrote   *sync.Cond
}

// Sent is the request as written to the socket(s); it waits for a Write in progress.
func (m *Meter) Sent() Exchange {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.writing > 0 {
		m.wrote.Wait()
	}
	return m.sent.Exchange()
}

// Received is the response as read from the socket(s).
func (m *Meter) Received() Exchange {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.received.Exchange()
}

// Conns is how many connections were dialled (1 for a clean exchange).
func (m *Meter) Conns() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conns
}

type meteredConn struct {
	net.Conn
	m *Meter
}

func (c *meteredConn) Write(b []byte) (int, error) {
	c.m.mu.Lock()
	c.m.writing++
	c.m.mu.Unlock()
	start := time.Now()
	n, err := c.Conn.Write(b)
	now := time.Now()
	c.m.mu.Lock()
	c.m.sent.add(b[:n], start, now)
	c.m.writing--
	c.m.wrote.Broadcast()
	c.m.mu.Unlock()
	return n, err
}

func (c *meteredConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	now := time.Now()
	c.m.mu.Lock()
	c.m.received.add(b[:n], now, now)
	c.m.mu.Unlock()
	return n, err
}

// NewMeteredClient is an HTTP client for exactly one exchange whose bytes m counts. Each
// call gets a fresh connection (no keep-alive, no compression negotiation, no proxy from
// the environment), so the count is that call's and nothing else's.
func NewMeteredClient(m *Meter, timeout time.Duration) *http.Client {
	m.mu.Lock()
	if m.wrote == nil {
		m.wrote = sync.NewCond(&m.mu)
	}
	m.mu.Unlock()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		Proxy:              nil,
		DisableKeepAlives:  true,
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			m.mu.Lock()
			m.conns++
			m.mu.Unlock()
			return &meteredConn{Conn: c, m: m}, nil
		},
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}
