package urls

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/faaslab/faaslab/scheduler"
)

// invoker records what the endpoint hands the scheduler.
type invoker struct {
	mu          sync.Mutex
	sync, async []*scheduler.InvokeRequest
}

func (i *invoker) Invoke(_ context.Context, req *scheduler.InvokeRequest) (*scheduler.InvokeResult, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.sync = append(i.sync, req)
	return &scheduler.InvokeResult{RequestID: req.RequestID, Payload: []byte(`{"ok":true}`)}, nil
}

func (i *invoker) InvokeAsync(req *scheduler.InvokeRequest) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.async = append(i.async, req)
	return nil
}

func (i *invoker) HasFunction(string) bool { return true }
func (i *invoker) AccountID() string       { return "000000000000" }

// URL invocations obey the Lambda API's payload limits: 6 MB synchronous, 1 MB for
// Event — on the body and on the event the function gets — answered as an oversize
// synchronous body is, 413 "Request Entity Too Large".
func TestEndpointPayloadLimits(t *testing.T) {
	s, c := storeWithURL(t)
	inv := &invoker{}
	h := MakeEndpointHandler(EndpointDeps{Store: s, Service: inv, Region: "us-east-1"})
	for _, tc := range []struct {
		what        string
		body        int
		contentType string
		event       bool
		status      int
	}{
		{"small event", 1024, "application/json", true, http.StatusAccepted},
		{"event body over 1 MB", scheduler.MaxAsyncPayloadBytes + 1, "application/json", true, http.StatusRequestEntityTooLarge},
		// 800 KB of binary is base64 in the event: over 1 MB.
		{"event over 1 MB", 800 << 10, "application/octet-stream", true, http.StatusRequestEntityTooLarge},
		{"event body of 512 KB", 512 << 10, "application/json", true, http.StatusAccepted},
		{"sync body over 1 MB", scheduler.MaxAsyncPayloadBytes + 1, "application/json", false, http.StatusOK},
		{"sync body over 6 MB", scheduler.MaxSyncPayloadBytes + 1, "application/json", false, http.StatusRequestEntityTooLarge},
		// 5 MB of binary is base64 in the event: over 6 MB.
		{"sync event over 6 MB", 5 << 20, "application/octet-stream", false, http.StatusRequestEntityTooLarge},
		{"sync binary body under 6 MB as event", 4 << 20, "application/octet-stream", false, http.StatusOK},
	} {
		inv.sync, inv.async = nil, nil
		r := httptest.NewRequest("POST", "/fn/"+c.URLID+"/", bytes.NewReader(bytes.Repeat([]byte("a"), tc.body)))
		r.Header.Set("Content-Type", tc.contentType)
		if tc.event {
			r.Header.Set(hInvocationType, scheduler.InvocationEvent)
		}
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.what, w.Code, w.Body, tc.status)
		}
		invoked := len(inv.sync) + len(inv.async)
		if tc.status == http.StatusRequestEntityTooLarge {
			if got := strings.TrimSpace(w.Body.String()); got != `{"Message":"Request Entity Too Large"}` {
				t.Errorf("%s: body %s", tc.what, got)
			}
			if invoked != 0 {
				t.Errorf("%s: refused request was invoked", tc.what)
			}
			continue
		}
		if invoked != 1 {
			t.Errorf("%s: %d invocations, want 1", tc.what, invoked)
		}
		for _, req := range inv.async {
			if len(req.Payload) > scheduler.MaxAsyncPayloadBytes {
				t.Errorf("%s: Event payload of %d bytes accepted", tc.what, len(req.Payload))
			}
		}
		for _, req := range inv.sync {
			if len(req.Payload) > scheduler.MaxSyncPayloadBytes {
				t.Errorf("%s: RequestResponse payload of %d bytes accepted", tc.what, len(req.Payload))
			}
		}
	}
}

// A URL request's X-Amzn-Trace-Id reaches the invocation (the scheduler makes one when
// there is none), synchronous or Event.
func TestEndpointPassesTraceID(t *testing.T) {
	s, c := storeWithURL(t)
	inv := &invoker{}
	h := MakeEndpointHandler(EndpointDeps{Store: s, Service: inv, Region: "us-east-1"})
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
	for _, event := range []bool{false, true} {
		r := httptest.NewRequest("GET", "/fn/"+c.URLID+"/", nil)
		r.Header.Set("X-Amzn-Trace-Id", trace)
		if event {
			r.Header.Set(hInvocationType, scheduler.InvocationEvent)
		}
		h(httptest.NewRecorder(), r)
	}
	if len(inv.sync) != 1 || len(inv.async) != 1 || inv.sync[0].TraceID != trace || inv.async[0].TraceID != trace {
		t.Fatalf("invocations %+v %+v: want both with TraceID %q", inv.sync, inv.async, trace)
	}
}
