package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testSandboxID is a unique sandbox name per test.
func testSandboxID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "faaslabt" + hex.EncodeToString(b)
}

type fixture struct {
	srv  *Server
	ep   *Endpoint
	id   string
	url  string // base URL of the runtime API, e.g. http://127.0.0.1:PORT
	addr string // host:port
}

// newFixture serves a Server over loopback with one sandbox registered at 127.0.0.1.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	srv := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	id := testSandboxID(t)
	ep := srv.Register(id, loopback)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	// Runs before ts.Close: releases long polls so Close does not wait on them.
	t.Cleanup(func() { srv.Unregister(id) })
	return &fixture{srv: srv, ep: ep, id: id, url: ts.URL, addr: strings.TrimPrefix(ts.URL, "http://")}
}

type result struct {
	resp Response
	err  error
}

func (f *fixture) invokeAsync(ctx context.Context, inv Invocation) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := f.ep.Invoke(ctx, inv)
		ch <- result{resp, err}
	}()
	return ch
}

func do(t *testing.T, method, url string, header http.Header, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (f *fixture) next(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	return do(t, "GET", f.url+APIVersionPath+"/invocation/next", nil, nil)
}

func (f *fixture) post(t *testing.T, path string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	return do(t, "POST", f.url+APIVersionPath+path, header, bytes.NewReader(body))
}

func wantErrorDoc(t *testing.T, resp *http.Response, body []byte, status int, errorType string) ErrorDocument {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	var doc ErrorDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("error body %q is not Lambda's error JSON: %v", body, err)
	}
	if doc.ErrorType != errorType || doc.ErrorMessage == "" {
		t.Fatalf("error document %+v, want errorType %s and a message", doc, errorType)
	}
	return doc
}

func wantAccepted(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusAccepted || string(body) != "{\"status\":\"OK\"}\n" {
		t.Fatalf("got %d %q, want 202 {\"status\":\"OK\"}", resp.StatusCode, body)
	}
}

func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Invoke did not return")
		return result{}
	}
}

func TestInvokeRoundTripWireFormat(t *testing.T) {
	f := newFixture(t)
	deadline := time.Now().Add(3 * time.Second)
	inv := Invocation{
		RequestID:       "req-1",
		Payload:         []byte(`{"hello":"world"}`),
		Deadline:        deadline,
		FunctionARN:     "arn:aws:lambda:us-east-1:000000000000:function:fn",
		TraceID:         "Root=1-abc",
		ClientContext:   `{"custom":{}}`,
		CognitoIdentity: `{"cognitoIdentityId":"x"}`,
	}
	select {
	case <-f.ep.Ready():
		t.Fatal("ready before the runtime asked for work")
	default:
	}
	ch := f.invokeAsync(context.Background(), inv)

	resp, body := f.next(t)
	if resp.StatusCode != http.StatusOK || string(body) != string(inv.Payload) {
		t.Fatalf("next: %d %q", resp.StatusCode, body)
	}
	want := map[string]string{
		HeaderRequestID:          "req-1",
		HeaderDeadlineMs:         strconv.FormatInt(deadline.UnixMilli(), 10),
		HeaderInvokedFunctionARN: inv.FunctionARN,
		HeaderTraceID:            inv.TraceID,
		HeaderClientContext:      inv.ClientContext,
		HeaderCognitoIdentity:    inv.CognitoIdentity,
		"Content-Type":           "application/json",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	select {
	case <-f.ep.Ready():
	default:
		t.Fatal("not ready after GET /next")
	}

	resp, body = f.post(t, "/invocation/req-1/response", http.Header{"Content-Type": {"text/plain"}}, []byte("done"))
	wantAccepted(t, resp, body)
	r := recv(t, ch)
	if r.err != nil || string(r.resp.Payload) != "done" || r.resp.FunctionError || r.resp.ContentType != "text/plain" {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
}

func TestInvokeFillsRequestIDAndDeadline(t *testing.T) {
	f := newFixture(t)
	ch := f.invokeAsync(context.Background(), Invocation{})
	resp, _ := f.next(t)
	id := resp.Header.Get(HeaderRequestID)
	ms, err := strconv.ParseInt(resp.Header.Get(HeaderDeadlineMs), 10, 64)
	if id == "" || err != nil || time.UnixMilli(ms).Before(time.Now().Add(DefaultDeadline/2)) {
		t.Fatalf("request id %q, deadline %q", id, resp.Header.Get(HeaderDeadlineMs))
	}
	resp, body := f.post(t, "/invocation/"+id+"/response", nil, nil)
	wantAccepted(t, resp, body)
	if r := recv(t, ch); r.err != nil || len(r.resp.Payload) != 0 {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
}

func TestFunctionError(t *testing.T) {
	for _, tc := range []struct {
		name, header, wantType string
	}{
		{"header names the type", "Custom.Header", "Custom.Header"},
		{"body names the type", "", "errorString"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ch := f.invokeAsync(context.Background(), Invocation{RequestID: "r"})
			f.next(t)
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.header != "" {
				h.Set(HeaderFunctionErrorType, tc.header)
			}
			doc := []byte(`{"errorMessage":"boom","errorType":"errorString"}`)
			resp, body := f.post(t, "/invocation/r/error", h, doc)
			wantAccepted(t, resp, body)
			r := recv(t, ch)
			if r.err != nil || !r.resp.FunctionError || r.resp.ErrorType != tc.wantType || string(r.resp.Payload) != string(doc) {
				t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
			}
		})
	}
}

func TestAnswerErrors(t *testing.T) {
	f := newFixture(t)

	// No invocation handed out yet: the emulator checks the id first, InvalidRequestID.
	resp, body := f.post(t, "/invocation/nope/response", nil, []byte("x"))
	wantErrorDoc(t, resp, body, http.StatusBadRequest, ErrorTypeInvalidRequestID)
	resp, body = f.post(t, "/invocation/nope/error", nil, []byte("x"))
	wantErrorDoc(t, resp, body, http.StatusBadRequest, ErrorTypeInvalidRequestID)

	ch := f.invokeAsync(context.Background(), Invocation{RequestID: "good"})
	f.next(t)
	resp, body = f.post(t, "/invocation/other/response", nil, []byte("x"))
	wantErrorDoc(t, resp, body, http.StatusBadRequest, ErrorTypeInvalidRequestID)
	resp, body = f.post(t, "/invocation/other/error", nil, []byte("x"))
	wantErrorDoc(t, resp, body, http.StatusBadRequest, ErrorTypeInvalidRequestID)

	// GET /next again before answering: the same invocation again, as from the emulator.
	resp, body = f.next(t)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(HeaderRequestID) != "good" {
		t.Fatalf("second GET /next: %d %s %q, want 200 with invocation good again", resp.StatusCode, resp.Header.Get(HeaderRequestID), body)
	}

	resp, body = f.post(t, "/invocation/good/response", nil, []byte("ok"))
	wantAccepted(t, resp, body)
	if r := recv(t, ch); r.err != nil || string(r.resp.Payload) != "ok" {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
	// The same answer twice: no longer the invocation in flight.
	resp, body = f.post(t, "/invocation/good/response", nil, []byte("ok"))
	wantErrorDoc(t, resp, body, http.StatusBadRequest, ErrorTypeInvalidRequestID)

	// Unknown routes and methods.
	if resp, _ := do(t, "GET", f.url+"/2018-06-01/runtime/bogus", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", f.url+APIVersionPath+"/invocation/next", nil, nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /next: %d", resp.StatusCode)
	}
}

func TestResponseTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("a"), MaxPayloadBytes+1)
	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"content-length", func() io.Reader { return bytes.NewReader(big) }},
		// A reader of unknown size is sent chunked, as aws-lambda-go does.
		{"chunked", func() io.Reader { return io.MultiReader(bytes.NewReader(big)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ch := f.invokeAsync(context.Background(), Invocation{RequestID: "big"})
			f.next(t)
			resp, body := do(t, "POST", f.url+APIVersionPath+"/invocation/big/response", nil, tc.body())
			wantErrorDoc(t, resp, body, http.StatusRequestEntityTooLarge, ErrorTypeRequestEntityTooLarge)
			r := recv(t, ch)
			if r.err != nil || !r.resp.FunctionError || r.resp.ErrorType != ErrorTypeResponseSizeTooLarge ||
				!strings.Contains(string(r.resp.Payload), strconv.Itoa(len(big))) {
				t.Fatalf("Invoke = %+v %q, %v", r.resp, r.resp.Payload, r.err)
			}
		})
	}
}

func TestResponseAtLimitAccepted(t *testing.T) {
	f := newFixture(t)
	payload := bytes.Repeat([]byte("b"), MaxPayloadBytes)
	ch := f.invokeAsync(context.Background(), Invocation{RequestID: "edge"})
	f.next(t)
	resp, body := f.post(t, "/invocation/edge/response", nil, payload)
	wantAccepted(t, resp, body)
	if r := recv(t, ch); r.err != nil || r.resp.FunctionError || len(r.resp.Payload) != MaxPayloadBytes {
		t.Fatalf("Invoke: function error %v, %d bytes, %v", r.resp.FunctionError, len(r.resp.Payload), r.err)
	}
}

func TestUnknownSandbox(t *testing.T) {
	srv := NewServer(nil)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, body := do(t, "GET", ts.URL+APIVersionPath+"/invocation/next", nil, nil)
	wantErrorDoc(t, resp, body, http.StatusForbidden, ErrorTypeUnknownSandbox)
	resp, body = do(t, "POST", ts.URL+APIVersionPath+"/invocation/x/response", nil, strings.NewReader("x"))
	wantErrorDoc(t, resp, body, http.StatusForbidden, ErrorTypeUnknownSandbox)
}

func TestInitError(t *testing.T) {
	f := newFixture(t)
	doc := []byte(`{"errorMessage":"no handler","errorType":"Runtime.HandlerNotFound"}`)
	resp, body := f.post(t, "/init/error", http.Header{HeaderFunctionErrorType: {"Runtime.HandlerNotFound"}}, doc)
	wantAccepted(t, resp, body)
	select {
	case r := <-f.ep.InitError():
		if !r.FunctionError || r.ErrorType != "Runtime.HandlerNotFound" || string(r.Payload) != string(doc) {
			t.Fatalf("init error %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no init error delivered")
	}
	r, err := f.ep.Invoke(context.Background(), Invocation{})
	if !errors.Is(err, ErrInitFailed) || r.ErrorType != "Runtime.HandlerNotFound" {
		t.Fatalf("Invoke after init error = %+v, %v; want ErrInitFailed", r, err)
	}
	resp, body = f.post(t, "/init/error", nil, doc)
	wantErrorDoc(t, resp, body, http.StatusForbidden, ErrorTypeInvalidStateTransition)
}

// An init error over the payload limit is reported as Function.ResponseSizeTooLarge with
// a 413, as an invocation's would be (it was accepted and arrived empty).
func TestInitErrorTooLarge(t *testing.T) {
	f := newFixture(t)
	big := bytes.Repeat([]byte("e"), MaxPayloadBytes+1)
	resp, body := f.post(t, "/init/error", nil, big)
	wantErrorDoc(t, resp, body, http.StatusRequestEntityTooLarge, ErrorTypeRequestEntityTooLarge)
	r := <-f.ep.InitError()
	if !r.FunctionError || r.ErrorType != ErrorTypeResponseSizeTooLarge || !strings.Contains(string(r.Payload), strconv.Itoa(len(big))) {
		t.Fatalf("init error %+v %q; want %s naming the size", r, r.Payload, ErrorTypeResponseSizeTooLarge)
	}
}

func TestInitErrorAfterReady(t *testing.T) {
	f := newFixture(t)
	ch := f.invokeAsync(context.Background(), Invocation{RequestID: "a"})
	f.next(t)
	resp, body := f.post(t, "/init/error", nil, []byte(`{}`))
	wantErrorDoc(t, resp, body, http.StatusForbidden, ErrorTypeInvalidStateTransition)
	f.post(t, "/invocation/a/response", nil, nil)
	recv(t, ch)
}

func TestUnregisterDuringInvoke(t *testing.T) {
	t.Run("waiting for the runtime", func(t *testing.T) {
		f := newFixture(t)
		ch := f.invokeAsync(context.Background(), Invocation{})
		time.Sleep(20 * time.Millisecond) // let Invoke block; the outcome is the same either way
		f.srv.Unregister(f.id)
		if r := recv(t, ch); !errors.Is(r.err, ErrUnregistered) {
			t.Fatalf("Invoke = %v, want ErrUnregistered", r.err)
		}
		select {
		case <-f.ep.Done():
		default:
			t.Fatal("Done not closed")
		}
		resp, body := f.next(t)
		wantErrorDoc(t, resp, body, http.StatusForbidden, ErrorTypeUnknownSandbox)
	})
	t.Run("handed to the runtime", func(t *testing.T) {
		f := newFixture(t)
		ch := f.invokeAsync(context.Background(), Invocation{RequestID: "r"})
		f.next(t)
		f.srv.Unregister(f.id)
		if r := recv(t, ch); !errors.Is(r.err, ErrUnregistered) {
			t.Fatalf("Invoke = %v, want ErrUnregistered", r.err)
		}
		resp, body := f.post(t, "/invocation/r/response", nil, nil)
		wantErrorDoc(t, resp, body, http.StatusForbidden, ErrorTypeUnknownSandbox)
	})
	t.Run("long poll pending", func(t *testing.T) {
		f := newFixture(t)
		done := make(chan *http.Response, 1)
		go func() {
			resp, err := http.Get(f.url + APIVersionPath + "/invocation/next")
			if err != nil {
				done <- nil
				return
			}
			resp.Body.Close()
			done <- resp
		}()
		<-f.ep.Ready()
		f.srv.Unregister(f.id)
		select {
		case resp := <-done:
			if resp == nil || resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("pending /next after Unregister: %v, want 500", resp)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("pending /next not released")
		}
		if _, err := f.ep.Invoke(context.Background(), Invocation{}); !errors.Is(err, ErrUnregistered) {
			t.Fatalf("Invoke on unregistered endpoint = %v", err)
		}
	})
}

func TestInvokeContextTimeout(t *testing.T) {
	f := newFixture(t)
	// Nobody polls: the handoff itself times out.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := f.ep.Invoke(ctx, Invocation{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke = %v, want DeadlineExceeded", err)
	}
	// The runtime takes the invocation but never answers.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	ch := f.invokeAsync(ctx2, Invocation{RequestID: "slow"})
	f.next(t)
	if r := recv(t, ch); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("Invoke = %v, want DeadlineExceeded", r.err)
	}
	// A late answer is still accepted and does not leak into the next invocation.
	resp, body := f.post(t, "/invocation/slow/response", nil, []byte("late"))
	wantAccepted(t, resp, body)
	ch = f.invokeAsync(context.Background(), Invocation{RequestID: "next"})
	f.next(t)
	f.post(t, "/invocation/next/response", nil, []byte("fresh"))
	if r := recv(t, ch); r.err != nil || string(r.resp.Payload) != "fresh" {
		t.Fatalf("Invoke = %q, %v", r.resp.Payload, r.err)
	}
}

func TestHandlerForIgnoresAddress(t *testing.T) {
	srv := NewServer(nil)
	id := testSandboxID(t)
	// Registered at an address no request comes from.
	ep := srv.Register(id, netip.MustParseAddr("192.0.2.7"))
	t.Cleanup(func() { srv.Unregister(id) })
	ts := httptest.NewServer(srv.HandlerFor(id))
	t.Cleanup(ts.Close)
	f := &fixture{srv: srv, ep: ep, id: id, url: ts.URL}
	ch := f.invokeAsync(context.Background(), Invocation{RequestID: "h", Payload: []byte("p")})
	if resp, body := f.next(t); resp.StatusCode != 200 || string(body) != "p" {
		t.Fatalf("next: %d %q", resp.StatusCode, body)
	}
	f.post(t, "/invocation/h/response", nil, []byte("q"))
	if r := recv(t, ch); r.err != nil || string(r.resp.Payload) != "q" {
		t.Fatalf("Invoke = %q, %v", r.resp.Payload, r.err)
	}

	other := httptest.NewServer(srv.HandlerFor("faaslabt-none"))
	defer other.Close()
	resp, body := do(t, "GET", other.URL+APIVersionPath+"/invocation/next", nil, nil)
	wantErrorDoc(t, resp, body, http.StatusForbidden, ErrorTypeUnknownSandbox)
}

func TestRegisterAgainReplaces(t *testing.T) {
	srv := NewServer(nil)
	id := testSandboxID(t)
	old := srv.Register(id, loopback)
	fresh := srv.Register(id, loopback)
	t.Cleanup(func() { srv.Unregister(id) })
	if _, err := old.Invoke(context.Background(), Invocation{}); !errors.Is(err, ErrUnregistered) {
		t.Fatalf("old endpoint Invoke = %v, want ErrUnregistered", err)
	}
	if srv.Endpoint(id) != fresh {
		t.Fatal("Endpoint does not return the new registration")
	}
}

func TestSourceAddressSelectsSandbox(t *testing.T) {
	srv := NewServer(nil)
	idA, idB := testSandboxID(t), testSandboxID(t)
	epA := srv.Register(idA, netip.MustParseAddr("127.0.0.1"))
	epB := srv.Register(idB, netip.MustParseAddr("127.0.0.2"))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Unregister(idA); srv.Unregister(idB) })

	// A client bound to 127.0.0.2 is sandbox B, whatever it asks for.
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer hc.CloseIdleConnections()

	chB := make(chan result, 1)
	go func() {
		r, err := epB.Invoke(context.Background(), Invocation{RequestID: "for-b", Payload: []byte("b")})
		chB <- result{r, err}
	}()
	resp, err := hc.Get(ts.URL + APIVersionPath + "/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get(HeaderRequestID) != "for-b" || string(body) != "b" {
		t.Fatalf("127.0.0.2 got %q %q, want sandbox B's invocation", resp.Header.Get(HeaderRequestID), body)
	}
	select {
	case <-epA.Ready():
		t.Fatal("sandbox A marked ready by B's poll")
	default:
	}
	resp, err = hc.Post(ts.URL+APIVersionPath+"/invocation/for-b/response", "application/json", strings.NewReader("ok-b"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := recv(t, chB); r.err != nil || string(r.resp.Payload) != "ok-b" {
		t.Fatalf("B's Invoke = %q, %v", r.resp.Payload, r.err)
	}
}
