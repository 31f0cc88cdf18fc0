package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

type typedErr struct{}

func (typedErr) Error() string     { return "typed failure" }
func (typedErr) ErrorType() string { return "Custom.Type" }

// serveAsync runs the client loop against the fixture until the test ends.
func serveAsync(t *testing.T, f *fixture, h HandlerFunc) (*Client, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := NewClient(f.addr)
	done := make(chan error, 1)
	go func() {
		done <- c.Serve(ctx, h)
		close(done) // the test may have taken the error already
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		c.Close()
	})
	return c, done
}

func invoke(t *testing.T, ep *Endpoint, inv Invocation) Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ep.Invoke(ctx, inv)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return r
}

func TestClientServe(t *testing.T) {
	f := newFixture(t)
	serveAsync(t, f, func(ctx context.Context, payload []byte) ([]byte, error) {
		inv, ok := InvocationFromContext(ctx)
		dl, hasDeadline := ctx.Deadline()
		switch string(payload) {
		case "typed":
			return nil, fmt.Errorf("wrapped: %w", typedErr{})
		case "plain":
			return nil, errors.New("plain failure")
		case "panic":
			panic("kaboom")
		case "big":
			return bytes.Repeat([]byte("x"), MaxPayloadBytes+1), nil
		}
		return fmt.Appendf(nil, "%s|%s|%v|%d", payload, inv.RequestID, ok && hasDeadline, dl.UnixMilli()), nil
	})

	deadline := time.Now().Add(time.Minute)
	r := invoke(t, f.ep, Invocation{RequestID: "r1", Payload: []byte("hi"), Deadline: deadline})
	if want := fmt.Sprintf("hi|r1|true|%d", deadline.UnixMilli()); string(r.Payload) != want || r.FunctionError {
		t.Fatalf("echo = %q, want %q", r.Payload, want)
	}

	for _, tc := range []struct{ payload, errorType, message string }{
		{"typed", "Custom.Type", "wrapped: typed failure"},
		{"plain", "Error", "plain failure"},
		{"panic", "Runtime.HandlerPanic", "handler panicked: kaboom"},
		{"big", ErrorTypeResponseSizeTooLarge, ""},
	} {
		r := invoke(t, f.ep, Invocation{Payload: []byte(tc.payload)})
		var doc ErrorDocument
		if err := json.Unmarshal(r.Payload, &doc); err != nil || !r.FunctionError || r.ErrorType != tc.errorType ||
			doc.ErrorType != tc.errorType || (tc.message != "" && doc.ErrorMessage != tc.message) {
			t.Fatalf("%s: %+v %q (%v)", tc.payload, r, r.Payload, err)
		}
	}
	// The loop carried on after every failure.
	if r := invoke(t, f.ep, Invocation{RequestID: "r2", Payload: []byte("again")}); !bytes.HasPrefix(r.Payload, []byte("again|r2|")) {
		t.Fatalf("after failures: %q", r.Payload)
	}
}

func TestClientServeStops(t *testing.T) {
	t.Run("context cancelled during the long poll", func(t *testing.T) {
		f := newFixture(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := NewClient(f.addr)
		defer c.Close()
		done := make(chan error, 1)
		go func() { done <- c.Serve(ctx, func(context.Context, []byte) ([]byte, error) { return nil, nil }) }()
		<-f.ep.Ready()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Serve = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not stop")
		}
	})
	t.Run("sandbox unregistered", func(t *testing.T) {
		f := newFixture(t)
		_, done := serveAsync(t, f, func(context.Context, []byte) ([]byte, error) { return nil, nil })
		<-f.ep.Ready()
		f.srv.Unregister(f.id)
		select {
		case err := <-done:
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.StatusCode != 500 {
				t.Fatalf("Serve = %v, want a 500 APIError", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not stop")
		}
	})
}

// The bootstrap exposes each invocation's trace header as _X_AMZN_TRACE_ID, as Lambda's
// runtimes do (SDKs read it there).
func TestClientSetsTraceIDEnv(t *testing.T) {
	t.Setenv("_X_AMZN_TRACE_ID", "stale")
	f := newFixture(t)
	serveAsync(t, f, func(ctx context.Context, payload []byte) ([]byte, error) {
		return []byte(os.Getenv("_X_AMZN_TRACE_ID")), nil
	})
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
	if r := invoke(t, f.ep, Invocation{RequestID: "t1", TraceID: trace}); string(r.Payload) != trace {
		t.Errorf("_X_AMZN_TRACE_ID in the handler = %q, want %q", r.Payload, trace)
	}
	if r := invoke(t, f.ep, Invocation{RequestID: "t2"}); len(r.Payload) != 0 {
		t.Errorf("_X_AMZN_TRACE_ID after an invocation without a trace = %q, want empty", r.Payload)
	}
}

func TestClientInitError(t *testing.T) {
	f := newFixture(t)
	c := NewClient(f.addr)
	defer c.Close()
	doc := ErrorDocument{ErrorMessage: "cannot start", ErrorType: "Runtime.Custom"}
	if err := c.InitError(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	r := <-f.ep.InitError()
	var got ErrorDocument
	if err := json.Unmarshal(r.Payload, &got); err != nil || got.ErrorMessage != "cannot start" || got.ErrorType != "Runtime.Custom" || r.ErrorType != "Runtime.Custom" {
		t.Fatalf("init error %+v (%v)", r, err)
	}
	// A second one is refused with Lambda's error JSON, surfaced as an APIError.
	err := c.InitError(context.Background(), doc)
	if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.StatusCode != 403 || apiErr.ErrorType != ErrorTypeInvalidStateTransition {
		t.Fatalf("second InitError = %v", err)
	}
}

func TestClientReconnects(t *testing.T) {
	f := newFixture(t)
	c := NewClient(f.addr)
	defer c.Close()
	ch := f.invokeAsync(context.Background(), Invocation{RequestID: "a"})
	inv, err := c.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The server side drops the kept-alive connection; the next call dials again.
	c.conn.Close()
	if err := c.Respond(context.Background(), inv.RequestID, []byte("ok")); err != nil {
		t.Fatalf("Respond after a dropped connection: %v", err)
	}
	if r := recv(t, ch); string(r.resp.Payload) != "ok" {
		t.Fatalf("Invoke = %q, %v", r.resp.Payload, r.err)
	}
}
