package faasbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/faaslab/faaslab/experiments/faasbench/wire"
)

// Call statuses.
const (
	StatusSuccess = "success"
	StatusError   = "error"
	StatusTimeout = "timeout"
	StatusInvalid = "invalid" // the answer did not carry the request's UUID
)

// Call is one request of the generator and everything measured about it; one CSV row.
type Call struct {
	Workload string
	Kind     string
	Target   string
	Seq      int
	UUID     string
	Async    bool
	Words    int
	WaitMs   float64 // responsiveness: pause before this call
	Start    time.Time

	Status     string
	HTTPStatus int    // the proxy's (or the platform's) answer at m4
	Answer     string // the answer's body when it is not the proxy's message (truncated)
	Error      string

	ClientMs float64 // first byte sent at m1 to last byte received at m4
	M1, M2   wire.Exchange
	M3, M4   wire.Exchange
	// M2LatencyMs: proxy's first request byte (m2) → target start; M3LatencyMs: target
	// stop → proxy's last response byte (m3). Same host clock on faaslab; only set when
	// the target reports its own times.
	M2LatencyMs, M3LatencyMs float64

	ProxyRunMs, TargetRunMs float64
	TargetTiming            string // target | proxy
	TargetStatus            int
	TargetResult            string

	// From the daemon's records (faaslab only).
	ProxyRequestID, TargetRequestID string
	ProxyStart, TargetStart         string // cold | warm
	ProxyOutcome, TargetOutcome     string
	ProxyBilledMs, TargetBilledMs   int64
	GatewayTimeout                  bool // the platform's gateway answered before the proxy
}

const maxAnswer = 512

// do sends one paper request to proxyURL and fills c from what comes back.
func do(ctx context.Context, c *Call, proxyURL, targetURI string, data json.RawMessage, asyncHeader bool, timeout time.Duration) {
	c.UUID = uuid.NewString()
	c.Start = time.Now()
	body, err := json.Marshal(wire.Request{UUID: c.UUID, TargetURI: targetURI, Data: data})
	if err != nil {
		c.Status, c.Error = StatusError, err.Error()
		return
	}
	var m wire.Meter
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, proxyURL, bytes.NewReader(body))
	if err != nil {
		c.Status, c.Error = StatusError, err.Error()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if asyncHeader {
		req.Header.Set("X-Amz-Invocation-Type", "Event")
	}
	resp, err := wire.NewMeteredClient(&m, timeout).Do(req)
	var answer []byte
	if err == nil {
		answer, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	c.M1, c.M4 = m.Sent(), m.Received()
	c.ClientMs = msSince(c.Start)
	if c.M1.FirstByteNs != 0 && c.M4.LastByteNs != 0 {
		c.ClientMs = float64(c.M4.LastByteNs-c.M1.FirstByteNs) / 1e6
	}
	if err != nil {
		c.Status, c.Error = StatusError, err.Error()
		if isTimeout(err) {
			c.Status = StatusTimeout
		}
		return
	}
	c.HTTPStatus = resp.StatusCode
	c.ProxyRequestID = resp.Header.Get("X-Amzn-Requestid")
	classify(c, answer)
}

// classify sets the status from the m4 answer.
func classify(c *Call, answer []byte) {
	if c.Async {
		c.Status = StatusSuccess
		if c.HTTPStatus != http.StatusAccepted && c.HTTPStatus != http.StatusOK {
			c.Status, c.Answer = StatusError, truncate(answer)
		}
		return
	}
	if c.HTTPStatus != http.StatusOK {
		c.Status, c.Answer = StatusError, truncate(answer)
		if c.HTTPStatus == http.StatusGatewayTimeout || c.HTTPStatus == http.StatusRequestTimeout {
			c.Status = StatusTimeout
		}
		return
	}
	var r wire.Response
	if err := json.Unmarshal(answer, &r); err != nil || r.UUID != c.UUID {
		c.Status, c.Answer = StatusInvalid, truncate(answer)
		if err != nil {
			c.Error = "the answer is not the proxy's message: " + err.Error()
		} else {
			c.Error = "proxy_workload_uuid " + r.UUID + " is not the request's " + c.UUID
		}
		return
	}
	c.M2, c.M3 = r.M2, r.M3
	c.TargetTiming, c.TargetStatus, c.TargetRequestID = r.TargetTiming, r.TargetStatusCode, r.TargetRequestID
	c.TargetResult = truncate(r.Result)
	c.ProxyRunMs = hrMs(r.RunTimeHrSec, r.RunTimeHrNsec)
	c.TargetRunMs = hrMs(r.TargetResult.RunTimeHrSec, r.TargetResult.RunTimeHrNsec)
	if r.TargetTiming == "target" {
		c.M2LatencyMs = float64(r.StartTimeNs-r.M2.FirstByteNs) / 1e6
		c.M3LatencyMs = float64(r.M3.LastByteNs-r.StopTimeNs) / 1e6
	}
	c.Status = StatusSuccess
	if r.Error != "" {
		c.Status, c.Error = StatusError, r.Error
		if r.TargetStatusCode == http.StatusGatewayTimeout || r.TargetStatusCode == http.StatusRequestTimeout || isTimeoutMsg(r.Error) {
			c.Status = StatusTimeout
		}
	}
}

func hrMs(sec, nsec int64) float64 { return float64(sec)*1e3 + float64(nsec)/1e6 }

func msSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }

func truncate(b []byte) string {
	if len(b) > maxAnswer {
		return string(b[:maxAnswer]) + "…"
	}
	return string(b)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isTimeoutMsg(s string) bool {
	return bytes.Contains([]byte(s), []byte("Client.Timeout")) || bytes.Contains([]byte(s), []byte("deadline exceeded"))
}
