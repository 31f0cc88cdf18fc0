package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/faaslab/faaslab/experiments/faasbench/wire"
)

// The faasbench functions (docs/faasbench.md): a proxy that calls a target over HTTP and
// measures the exchange on its socket, and instrumented targets that report their own
// start/stop times. All of them work behind a function URL (payload format 2.0 event: the
// request body is the message) and through a plain Invoke (the payload is the message).
//
//	faasbench-proxy     wire.Request                 -> wire.Response
//	faasbench-wordcount "text" | {"text": "..."}     -> wire.TargetResult{Result: {"words", "letters"}}
//	faasbench-sleep     {"ms": N}                    -> wire.TargetResult{Result: {"ms"}}
//	faasbench-cpu       {"ms": N}                    -> wire.TargetResult{Result: cpu's answer}
//	faasbench-timeout   (ignored)                    -> never answers: runs into the function's timeout

// unwrapEvent returns the request body when payload is a function URL's payload format 2.0
// event, else payload itself.
func unwrapEvent(payload []byte) []byte {
	var ev struct {
		Version        string           `json:"version"`
		RequestContext *json.RawMessage `json:"requestContext"`
		Body           string           `json:"body"`
		IsBase64       bool             `json:"isBase64Encoded"`
	}
	if json.Unmarshal(payload, &ev) != nil || ev.Version != "2.0" || ev.RequestContext == nil {
		return payload
	}
	if ev.IsBase64 {
		if b, err := base64.StdEncoding.DecodeString(ev.Body); err == nil {
			return b
		}
	}
	return []byte(ev.Body)
}

// instrumented wraps a workload as a non-productive target: it times the work itself and
// answers the paper's target_* fields around the workload's own answer.
func instrumented(h Handler) Handler {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		body := unwrapEvent(payload)
		start := time.Now()
		res, err := h(ctx, body)
		stop := time.Now()
		if err != nil {
			return nil, err
		}
		sec, nsec := wire.HrTime(stop.Sub(start))
		return json.Marshal(wire.TargetResult{
			StartTime: start.UnixMilli(), StopTime: stop.UnixMilli(),
			RunTimeHrSec: sec, RunTimeHrNsec: nsec, Result: res,
			StartTimeNs: start.UnixNano(), StopTimeNs: stop.UnixNano(),
		})
	}
}

// untilDeadline waits until the invocation ends: the timeout target.
func untilDeadline(ctx context.Context, _ []byte) ([]byte, error) {
	<-ctx.Done()
	return nil, interrupted("faasbench-timeout", ctx.Err())
}

const proxyWant = `{"faasbench_workload_uuid": "...", "target_uri": "http://...", "faasbench_workload_data": ...}`

// FaasbenchProxy forwards faasbench_workload_data to target_uri (POST, the data as the
// body), counts the request (m2) and the response (m3) on its own socket and answers the
// paper's fields. A failed target call still answers (proxy_error set), so the generator
// gets the UUID back and can tell a target failure from a platform one.
func FaasbenchProxy(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	var req wire.Request
	if err := json.Unmarshal(unwrapEvent(payload), &req); err != nil {
		return nil, invalidPayload("faasbench-proxy", proxyWant, err)
	}
	if req.UUID == "" {
		return nil, invalidPayload("faasbench-proxy", proxyWant, errors.New("faasbench_workload_uuid is empty"))
	}
	if u, err := url.Parse(req.TargetURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalidPayload("faasbench-proxy", proxyWant, fmt.Errorf("target_uri %q is not an http(s) URL", req.TargetURI))
	}
	out := wire.Response{UUID: req.UUID}
	callTarget(ctx, &req, &out)
	stop := time.Now()
	out.StartTime, out.StopTime = start.UnixMilli(), stop.UnixMilli()
	out.RunTimeHrSec, out.RunTimeHrNsec = wire.HrTime(stop.Sub(start))
	return json.Marshal(out)
}

// callTarget makes the m2/m3 exchange and fills out's target_* and proxy_m2/m3 fields.
func callTarget(ctx context.Context, req *wire.Request, out *wire.Response) {
	var m wire.Meter
	defer func() { out.M2, out.M3 = m.Sent(), m.Received() }()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.TargetURI, bytes.NewReader(req.Data))
	if err != nil {
		out.Error = err.Error()
		return
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := wire.NewMeteredClient(&m, 0).Do(hreq)
	if err != nil {
		out.Error = "calling the target: " + err.Error()
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	out.TargetStatusCode = resp.StatusCode
	out.TargetRequestID = resp.Header.Get("X-Amzn-Requestid")
	if err != nil {
		out.Error = "reading the target's answer: " + err.Error()
		return
	}
	if resp.StatusCode >= 300 {
		out.Error = fmt.Sprintf("the target answered %s", resp.Status)
	}
	var tr wire.TargetResult
	if json.Unmarshal(body, &tr) == nil && tr.StartTimeNs != 0 {
		out.TargetResult, out.TargetTiming = tr, "target"
		return
	}
	// A plain target: its answer is the result, and the proxy's view of the call is its time.
	out.TargetTiming = "proxy"
	if json.Valid(body) {
		out.TargetResult.Result = body
	} else {
		out.TargetResult.Result, _ = json.Marshal(string(body))
	}
	sent, recv := m.Sent(), m.Received()
	tr = wire.TargetResult{Result: out.Result, StartTimeNs: sent.FirstByteNs, StopTimeNs: recv.LastByteNs,
		StartTime: sent.FirstByteNs / 1e6, StopTime: recv.LastByteNs / 1e6}
	tr.RunTimeHrSec, tr.RunTimeHrNsec = wire.HrTime(time.Duration(recv.LastByteNs - sent.FirstByteNs))
	out.TargetResult = tr
}
