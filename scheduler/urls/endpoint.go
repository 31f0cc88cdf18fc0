package urls

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/faaslab/faaslab/scheduler"
)

// Invoker is what the endpoint needs from the scheduler; *scheduler.Scheduler implements it.
type Invoker interface {
	Invoke(ctx context.Context, req *scheduler.InvokeRequest) (*scheduler.InvokeResult, error)
	InvokeAsync(req *scheduler.InvokeRequest) error
	HasFunction(name string) bool
	AccountID() string
}

var _ Invoker = (*scheduler.Scheduler)(nil)

// EndpointDeps are the URL endpoint's dependencies.
type EndpointDeps struct {
	Store   *Store
	Service Invoker
	Recent  *Recent // where finished invocations are kept for the host API; nil = nowhere
	// GatewayTimeout, when > 0, answers 504 after this long while the function runs on
	// (and is billed) to its end, as an API gateway in front of a function does. 0 = the
	// function's own timeout is the only limit, as on Lambda function URLs.
	GatewayTimeout time.Duration
	Region         string
	Logger         *slog.Logger
}

// Header names of the answers.
const (
	hRequestID      = "X-Amzn-Requestid"
	hInvocationType = "X-Amz-Invocation-Type"
	hTraceID        = "X-Amzn-Trace-Id"
)

// MakeEndpointHandler serves every function URL: /fn/<url-id>/... or a Host header
// <url-id>.lambda-url.<...>. Answers: the function's response (structured or inferred),
// 502 "Internal Server Error" on a function error or timeout, 504 when the gateway
// timeout passes first, 403 for an unknown URL (as Lambda), 413 over Lambda's payload
// limit (a body or event over 6 MB; with Event over 1 MB), 429 throttled, and
// 202 for X-Amz-Invocation-Type: Event (asynchronous).
func MakeEndpointHandler(d EndpointDeps) http.HandlerFunc {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		requestID := uuid.NewString()
		w.Header()[hRequestID] = []string{requestID}
		w, bodyRead := noteRequest(w, r, requestID)
		c, rawPath, ok := route(d.Store, r)
		if !ok || !d.Service.HasFunction(c.Function) {
			writeMessage(w, http.StatusForbidden, "Forbidden")
			return
		}
		async := r.Header.Get(hInvocationType) == scheduler.InvocationEvent
		limit := int64(scheduler.MaxSyncPayloadBytes)
		if async {
			limit = scheduler.MaxAsyncPayloadBytes
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		bodyRead(int64(len(body)))
		domain := c.URLID + ".lambda-url." + d.Region + ".on.aws"
		ev := newEvent(r, body, c, d.Service.AccountID(), domain, requestID, rawPath, time.Now())
		payload, err := json.Marshal(ev)
		if err != nil {
			writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		// The limit is on what the function gets: the event, headers and all (a binary
		// body is base64 in it, a third larger).
		if int64(len(payload)) > limit {
			writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		req := &scheduler.InvokeRequest{Function: c.Function, RequestID: requestID, Payload: payload,
			TraceID: r.Header.Get(hTraceID)}
		if async {
			req.InvocationType = scheduler.InvocationEvent
			if err := d.Service.InvokeAsync(req); err != nil {
				writeInvokeError(w, err)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			return
		}
		invokeSync(w, r, d, req, log)
	}
}

// invokeSync runs the invocation detached from the client (it finishes and is billed even
// if the client or the gateway gives up) and answers whichever comes first.
func invokeSync(w http.ResponseWriter, r *http.Request, d EndpointDeps, req *scheduler.InvokeRequest, log *slog.Logger) {
	type outcome struct {
		res *scheduler.InvokeResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := d.Service.Invoke(context.WithoutCancel(r.Context()), req)
		if err == nil && d.Recent != nil {
			d.Recent.add(res.Record)
		}
		done <- outcome{res, err}
	}()
	var timeout <-chan time.Time
	if d.GatewayTimeout > 0 {
		t := time.NewTimer(d.GatewayTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case o := <-done:
		if o.err != nil {
			writeInvokeError(w, o.err)
			return
		}
		writeResult(w, o.res, log)
	case <-timeout:
		if d.Recent != nil {
			d.Recent.gatewayTimedOut(req.RequestID)
		}
		writeMessage(w, http.StatusGatewayTimeout, "Endpoint request timed out")
	}
}

func writeResult(w http.ResponseWriter, res *scheduler.InvokeResult, log *slog.Logger) {
	if res.FunctionError {
		writeMessage(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	resp, body, err := parseResponse(res.Payload)
	if err != nil {
		log.Warn("function URL: malformed structured response", "request_id", res.RequestID, "err", err)
		writeMessage(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	h := w.Header()
	// Lambda answers application/json unless the function names another type, for
	// inferred and structured responses alike.
	h.Set("Content-Type", "application/json")
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	status := resp.StatusCode
	if status < 100 || status > 599 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(body)
}

// writeMessage answers Lambda's URL error document {"Message": "..."}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct{ Message string }{msg})
}

func writeInvokeError(w http.ResponseWriter, err error) {
	var te *scheduler.ThrottleError
	switch {
	case errors.As(err, &te), errors.Is(err, scheduler.ErrTooManyRequests):
		writeMessage(w, http.StatusTooManyRequests, "Rate Exceeded.")
	case errors.Is(err, scheduler.ErrFunctionNotFound):
		writeMessage(w, http.StatusForbidden, "Forbidden")
	default:
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

// route finds the URL config for r and the path below the URL's root.
func route(s *Store, r *http.Request) (Config, string, bool) {
	if host, _, _ := strings.Cut(r.Host, "."); strings.Contains(r.Host, ".lambda-url.") {
		if c, ok := s.ByID(host); ok {
			return c, r.URL.Path, true
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok {
		return Config{}, "", false
	}
	id, sub, _ := strings.Cut(rest, "/")
	c, ok := s.ByID(id)
	if !ok {
		return Config{}, "", false
	}
	return c, "/" + sub, true
}

// Recent keeps the records of the last invocations through URLs, so that a benchmark can
// look up how an invocation ended and was billed after the HTTP answer (a gateway timeout
// answers long before the function ends).
type Recent struct {
	mu      sync.Mutex
	max     int
	order   []string
	records map[string]*Invocation
}

// Invocation is one URL invocation as the host API reports it.
type Invocation struct {
	Record         *scheduler.Record `json:"record,omitempty"` // nil while running
	GatewayTimeout bool              `json:"gateway_timeout"`
	Wire           *Wire             `json:"wire,omitempty"` // nil until the connection closed
}

// NewRecent keeps the last max invocations.
func NewRecent(max int) *Recent {
	return &Recent{max: max, records: map[string]*Invocation{}}
}

func (r *Recent) entry(id string) *Invocation {
	e, ok := r.records[id]
	if !ok {
		e = &Invocation{}
		r.records[id] = e
		r.order = append(r.order, id)
		if len(r.order) > r.max {
			delete(r.records, r.order[0])
			r.order = r.order[1:]
		}
	}
	return e
}

func (r *Recent) add(rec scheduler.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entry(rec.RequestID).Record = &rec
}

func (r *Recent) wire(id string, w Wire) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entry(id).Wire = &w
}

func (r *Recent) gatewayTimedOut(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entry(id).GatewayTimeout = true
}

// Get returns the invocation with request id id.
func (r *Recent) Get(id string) (Invocation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return deref(r.records[id])
}

// deref copies out a stored item; nil (not stored) is false.
func deref[T any](p *T) (T, bool) {
	if p == nil {
		var zero T
		return zero, false
	}
	return *p, true
}
