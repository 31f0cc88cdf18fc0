package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/scheduler"
	"github.com/faaslab/faaslab/scheduler/api"
	"github.com/faaslab/faaslab/scheduler/schedulertest"
)

// newGuardedAPI serves a scheduler on a fake backend through NewHandler with limits.
func newGuardedAPI(t *testing.T, limits api.Limits) (*httptest.Server, *scheduler.Scheduler, *schedulertest.Fake) {
	t.Helper()
	cfg := scheduler.DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.RuntimeBin = "/bin/true"
	fake := schedulertest.New()
	s, err := scheduler.New(cfg, fake.Deps(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewHandler(api.Deps{Service: s, Limits: limits}))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return srv, s, fake
}

// rawRequest writes head (request line and headers, CRLF-terminated, no blank line)
// and partial body on a fresh connection and returns the connection. The client never
// sends the rest of the body.
func rawRequest(t *testing.T, srv *httptest.Server, head, partial string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(head + "Host: faaslab\r\n\r\n" + partial)); err != nil {
		t.Fatal(err)
	}
	return c
}

// answered reports whether the server has answered on c already (without waiting).
func answered(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	n, _ := c.Read(make([]byte, 1))
	return n > 0
}

// readResponse reads one response; the 30 s read deadline only keeps a broken server
// from hanging the test (the server's own limit in these tests is 300 ms).
func readResponse(t *testing.T, c net.Conn) (*http.Response, errorDoc) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response to a request whose body never arrives: %v", err)
	}
	defer resp.Body.Close()
	var doc errorDoc
	json.NewDecoder(resp.Body).Decode(&doc)
	return resp, doc
}

type errorDoc struct {
	Type, Message, Reason string
}

func TestBodyThatNeverArrivesIsAnsweredInBoundedTime(t *testing.T) {
	srv, _, _ := newGuardedAPI(t, api.Limits{BodyReadTimeout: 300 * time.Millisecond})
	for _, tc := range []struct{ name, head string }{
		{"CreateFunction", "POST /2015-03-31/functions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"},
		{"UpdateFunctionCode", "PUT /2015-03-31/functions/f/code HTTP/1.1\r\nContent-Length: 1000\r\n"},
		{"Invoke", "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nContent-Length: 1000\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawRequest(t, srv, tc.head, `{"FunctionName":`)
			resp, doc := readResponse(t, c)
			if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Amzn-Errortype") != "RequestTimeoutException" {
				t.Fatalf("status %d type %q (%+v), want 408 RequestTimeoutException", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), doc)
			}
		})
	}
}

func TestHugeDeclaredBodyIsRefusedWithoutReading(t *testing.T) {
	// The deadline is long: the answer must come from the size check, not the timeout.
	srv, _, _ := newGuardedAPI(t, api.Limits{BodyReadTimeout: time.Hour})
	for _, head := range []string{
		"POST /2015-03-31/functions HTTP/1.1\r\nContent-Length: 1000000000000\r\n",
		"PUT /2015-03-31/functions/f/code HTTP/1.1\r\nContent-Length: 1000000000000\r\n",
		"PUT /2015-03-31/functions/f/configuration HTTP/1.1\r\nContent-Length: 1000000000000\r\n",
	} {
		c := rawRequest(t, srv, head, "")
		t.Log(strings.SplitN(head, "\r\n", 2)[0])
		resp, _ := readResponse(t, c)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%q: status %d, want 413", strings.SplitN(head, "\r\n", 2)[0], resp.StatusCode)
		}
	}
}

func TestRequestsSendingTheirBodyAreCapped(t *testing.T) {
	srv, _, _ := newGuardedAPI(t, api.Limits{BodyReadTimeout: time.Minute, MaxBodyReaders: 1})
	// The first request holds the only slot: its body never completes.
	hold := func() net.Conn {
		return rawRequest(t, srv, "POST /2015-03-31/functions HTTP/1.1\r\nContent-Length: 1000\r\n", "{")
	}
	held := hold()
	// Until the server has taken that request, a second one may still get the slot;
	// within a bounded number of tries it must be refused with Lambda's throttle shape.
	for i := 0; ; i++ {
		// A second request may even have held the slot when the first one's handler ran:
		// then the first was refused and holds nothing. Send it again.
		if answered(held) {
			held = hold()
		}
		resp, err := http.Post(srv.URL+"/2015-03-31/functions", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var doc errorDoc
		json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("X-Amzn-Errortype") != "TooManyRequestsException" || doc.Reason != "CallerRateLimitExceeded" {
				t.Fatalf("429 with type %q reason %q", resp.Header.Get("X-Amzn-Errortype"), doc.Reason)
			}
			break
		}
		if i == 1000 { // 10 s: a slow (emulated) CPU takes a while to start the first handler
			t.Fatalf("a second body reader was never refused (last status %d)", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Requests without a body are not counted.
	resp, err := http.Get(srv.URL + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ListFunctions while the body slot is taken: %d, want 200", resp.StatusCode)
	}
}

// TestInvokeOutlivesTheBodyDeadline: only the body read is bounded; an invocation that
// runs longer than BodyReadTimeout still answers 200 (the deadline is cleared at EOF).
func TestInvokeOutlivesTheBodyDeadline(t *testing.T) {
	srv, _, fake := newGuardedAPI(t, api.Limits{BodyReadTimeout: 100 * time.Millisecond})
	fake.Handler = func(ctx context.Context, _ *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		select {
		case <-time.After(time.Second):
			return runtime.Response{Payload: inv.Payload}, nil
		case <-ctx.Done():
			return runtime.Response{}, ctx.Err()
		}
	}
	create := `{"FunctionName":"slow","Runtime":"faaslab","Handler":"echo","Role":"arn:aws:iam::000000000000:role/x","Timeout":10}`
	resp, err := http.Post(srv.URL+"/2015-03-31/functions", "application/json", strings.NewReader(create))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("CreateFunction: %d", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+"/2015-03-31/functions/slow/invocations", "application/json", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		t.Fatalf("Invoke running past the body deadline: status %d, function error %q", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"))
	}
}

func TestUnknownOperationIsJSON(t *testing.T) {
	srv, _, _ := newGuardedAPI(t, api.Limits{})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"PATCH", "/2015-03-31/functions/f"},           // known path, wrong method
		{"GET", "/2015-03-31/functions/f/invocations"}, // known path, wrong method
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var doc errorDoc
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-Errortype") != "UnknownOperationException" ||
			err != nil || doc.Type != "User" || !strings.Contains(doc.Message, "Unknown operation") {
			t.Errorf("%s %s: status %d type %q body %+v (%v)", tc.method, tc.path, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), doc, err)
		}
	}
}
