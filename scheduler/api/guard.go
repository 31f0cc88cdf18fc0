package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Defaults of Limits.
const (
	// DefaultBodyReadTimeout: a 70 MB CreateFunction body arrives well within it even
	// at 1 MB/s; a client that declares a body and never sends it is cut off after it.
	DefaultBodyReadTimeout = 2 * time.Minute
	// DefaultMaxBodyReaders caps requests whose body is still arriving.
	DefaultMaxBodyReaders = 128
)

// Limits bound what clients can hold on the API server. Only the body read is bounded:
// a handler (a sync Invoke runs up to 15 minutes) is not.
type Limits struct {
	BodyReadTimeout time.Duration // the whole body must arrive within this; 0 = DefaultBodyReadTimeout
	MaxBodyReaders  int           // concurrent requests still sending their body; 0 = DefaultMaxBodyReaders
}

func (l Limits) withDefaults() Limits {
	if l.BodyReadTimeout <= 0 {
		l.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if l.MaxBodyReaders <= 0 {
		l.MaxBodyReaders = DefaultMaxBodyReaders
	}
	return l
}

// Guard bounds request bodies: a request that declares a body takes one of
// MaxBodyReaders slots (none free: 429 TooManyRequestsException at once) until its body
// hits EOF or fails or the handler returns, and gets a connection read deadline of
// BodyReadTimeout. The deadline is cleared at EOF because net/http then reads the idle
// connection in the background to notice a client going away, and a deadline firing
// there would cancel the request's context mid-invocation (a sync Invoke may run 15 min).
func Guard(next http.Handler, l Limits) http.Handler {
	l = l.withDefaults()
	slots := make(chan struct{}, l.MaxBodyReaders)
	retryAfter := []string{"1"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			setRequestID(w)
			w.Header()["Retry-After"] = retryAfter
			w.Header()["Connection"] = []string{"close"}
			writeErrorBody(w, http.StatusTooManyRequests, "TooManyRequestsException", errorBody{Type: "User",
				Message: "Rate exceeded: " + strconv.Itoa(l.MaxBodyReaders) + " requests are already sending their body",
				Reason:  "CallerRateLimitExceeded"})
			return
		}
		rc := http.NewResponseController(w)
		// Not every ResponseWriter supports deadlines (httptest.ResponseRecorder); the slot still bounds those.
		_ = rc.SetReadDeadline(time.Now().Add(l.BodyReadTimeout))
		b := &guardedBody{ReadCloser: r.Body, release: func() { <-slots },
			atEOF: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		defer b.done()
		// A shallow copy: net/http inspects the original request's body after the handler
		// (to discard what is left), which must stay its own type.
		r2 := *r
		r2.Body = b
		next.ServeHTTP(w, &r2)
	})
}

// guardedBody gives back its Guard slot once: at EOF, a read error or when the handler
// returns. Only EOF clears the read deadline: a body left unread keeps it, so net/http's
// discarding of the rest after the handler is bounded too.
type guardedBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
	atEOF   func()
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.atEOF()
	}
	if err != nil {
		b.done()
	}
	return n, err
}

func (b *guardedBody) done() { b.once.Do(b.release) }

// isBodyTimeout tells a body read cut off by Guard's deadline.
func isBodyTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// writeBodyTimeout answers a request whose body did not arrive in time.
func writeBodyTimeout(w http.ResponseWriter) {
	w.Header()["Connection"] = []string{"close"}
	writeErrorBody(w, http.StatusRequestTimeout, "RequestTimeoutException",
		errorBody{Type: "User", Message: "The request body did not arrive in time; send the whole body promptly"})
}

// UnknownOperation answers every request no route matched (unknown paths and methods
// alike) with Lambda's UnknownOperationException instead of net/http's plain-text 404/405.
func UnknownOperation(w http.ResponseWriter, r *http.Request) {
	setRequestID(w)
	writeError(w, http.StatusNotFound, "UnknownOperationException", "Unknown operation "+r.Method+" "+r.URL.Path)
}
