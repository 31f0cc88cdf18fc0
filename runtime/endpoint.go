package runtime

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// DefaultDeadline is how far ahead the deadline header points when an Invocation has none
// (Lambda's maximum timeout; runtimes such as aws-lambda-go refuse an invoke without one).
const DefaultDeadline = 900 * time.Second

// Endpoint is one registered sandbox's view of the Runtime API: the daemon hands it
// invocations, the sandbox's runtime fetches them with GET /next and answers them.
type Endpoint struct {
	id string
	ip netip.Addr

	// calls hands an invocation from Invoke to a waiting GET /next (unbuffered: the handoff
	// is the synchronisation).
	calls chan *call
	// slot admits one Invoke at a time.
	slot chan struct{}
	// gone is closed by Unregister.
	gone     chan struct{}
	goneOnce sync.Once

	ready      chan struct{}
	readyDone  atomic.Bool
	readyOnce  sync.Once
	initErr    chan Response // buffered 1: the /init/error document for the owner
	initFailed chan struct{} // closed at /init/error, so Invoke stops waiting

	mu       sync.Mutex
	cur      *call    // handed to the runtime, not answered yet
	initResp Response // valid once initFailed is closed
	initSeen bool
}

// call is one Invoke in flight.
type call struct {
	inv      Invocation
	deadline string        // Lambda-Runtime-Deadline-Ms, epoch milliseconds
	done     chan Response // buffered 1; exactly one answer is sent
}

func newEndpoint(id string, ip netip.Addr) *Endpoint {
	return &Endpoint{
		id:         id,
		ip:         ip,
		calls:      make(chan *call),
		slot:       make(chan struct{}, 1),
		gone:       make(chan struct{}),
		ready:      make(chan struct{}),
		initErr:    make(chan Response, 1),
		initFailed: make(chan struct{}),
	}
}

// ID is the sandbox ID the endpoint was registered with.
func (e *Endpoint) ID() string { return e.id }

// Ready is closed when the sandbox's runtime first asks for an invocation (GET /next), which
// is Lambda's signal that init is done.
func (e *Endpoint) Ready() <-chan struct{} { return e.ready }

// InitError receives the document the runtime posted to /init/error (at most one).
func (e *Endpoint) InitError() <-chan Response { return e.initErr }

// Done is closed when the endpoint is unregistered.
func (e *Endpoint) Done() <-chan struct{} { return e.gone }

// Invoke hands inv to the runtime's next GET /next and waits for its answer. A function
// error (POST .../error, oversize response) is a Response with FunctionError set and a nil
// error. It fails with ctx.Err() when ctx ends first, ErrUnregistered when the sandbox is
// unregistered, and ErrInitFailed (with the init error document) when the runtime posted
// /init/error. Invocations to one sandbox run one at a time; concurrent calls queue. An
// empty RequestID is filled with a random UUID; a zero Deadline means DefaultDeadline.
func (e *Endpoint) Invoke(ctx context.Context, inv Invocation) (Response, error) {
	select {
	case e.slot <- struct{}{}:
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-e.gone:
		return Response{}, ErrUnregistered
	}
	defer func() { <-e.slot }()

	if inv.RequestID == "" {
		inv.RequestID = uuid.NewString()
	}
	if inv.Deadline.IsZero() {
		inv.Deadline = time.Now().Add(DefaultDeadline)
	}
	c := &call{inv: inv, done: make(chan Response, 1)}
	c.deadline = formatMillis(inv.Deadline)

	select {
	case e.calls <- c:
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-e.gone:
		return Response{}, ErrUnregistered
	case <-e.initFailed:
		return e.initResponse(), ErrInitFailed
	}
	select {
	case resp := <-c.done:
		return resp, nil
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-e.gone:
		return Response{}, ErrUnregistered
	}
}

func (e *Endpoint) initResponse() Response {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.initResp
}

func (e *Endpoint) shutdown() {
	e.goneOnce.Do(func() { close(e.gone) })
}

func (e *Endpoint) markReady() {
	if !e.readyDone.Load() {
		e.readyOnce.Do(func() {
			close(e.ready)
			e.readyDone.Store(true)
		})
	}
}

// serve routes one Runtime API request without a mux: the route set is fixed and this is
// the hot path.
func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, APIVersionPath+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case rest == "invocation/next":
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		e.serveNext(w, r)
	case rest == "init/error":
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		e.serveInitError(w, r)
	case strings.HasPrefix(rest, "invocation/"):
		id, kind, ok := cutInvocationPath(rest[len("invocation/"):])
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		e.serveAnswer(w, r, id, kind == "error")
	default:
		http.NotFound(w, r)
	}
}

// cutInvocationPath splits "{id}/response" or "{id}/error".
func cutInvocationPath(s string) (id, kind string, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return "", "", false
	}
	id, kind = s[:i], s[i+1:]
	if strings.IndexByte(id, '/') >= 0 || (kind != "response" && kind != "error") {
		return "", "", false
	}
	return id, kind, true
}

// serveNext long-polls for the next invocation.
func (e *Endpoint) serveNext(w http.ResponseWriter, r *http.Request) {
	e.markReady()
	e.mu.Lock()
	busy := e.cur
	e.mu.Unlock()
	if busy != nil {
		// A runtime asking again before answering (it restarted its loop, or lost the
		// first answer) gets the same invocation again, as from the Runtime Interface
		// Emulator: its Ready state allows Ready and re-renders the current event.
		writeInvocation(w, busy)
		return
	}
	select {
	case c := <-e.calls:
		e.mu.Lock()
		e.cur = c
		e.mu.Unlock()
		writeInvocation(w, c)
	case <-e.gone:
		writeError(w, http.StatusInternalServerError, ErrorTypeInternalServerError, "Internal Server Error")
	case <-r.Context().Done():
	}
}

// serveAnswer takes POST .../response (isError false) or .../error for request id. An id
// that is not the invocation in flight (none in flight, an answered one, another one) is
// 400 InvalidRequestID: the emulator checks the id (AwsRequestIDValidator) before the
// runtime's state.
func (e *Endpoint) serveAnswer(w http.ResponseWriter, r *http.Request, id string, isError bool) {
	e.mu.Lock()
	c := e.cur
	e.mu.Unlock()
	if c == nil || c.inv.RequestID != id {
		writeInvalidRequestID(w)
		return
	}
	resp, status, err := readAnswer(r, isError)
	if err != nil {
		// The runtime may retry; the invocation stays current.
		writeError(w, http.StatusInternalServerError, ErrorTypeInternalServerError, "Internal Server Error")
		return
	}
	e.mu.Lock()
	claimed := e.cur == c
	if claimed {
		e.cur = nil
	}
	e.mu.Unlock()
	if !claimed {
		// A concurrent post for the same id won.
		writeInvalidRequestID(w)
		return
	}
	c.done <- resp
	if status == http.StatusRequestEntityTooLarge {
		writeTooLarge(w)
		return
	}
	writeAccepted(w)
}

// serveInitError takes POST /init/error, allowed only before the first GET /next.
func (e *Endpoint) serveInitError(w http.ResponseWriter, r *http.Request) {
	// Read as an invocation's error is: an oversize document becomes
	// Function.ResponseSizeTooLarge and a 413, not a silently empty init error.
	resp, status, err := readAnswer(r, true)
	if err != nil {
		writeError(w, http.StatusInternalServerError, ErrorTypeInternalServerError, "Internal Server Error")
		return
	}
	e.mu.Lock()
	from := ""
	switch {
	case e.initSeen:
		from = "InitError"
	case e.readyDone.Load():
		from = "Ready"
	}
	if from != "" {
		e.mu.Unlock()
		writeStateError(w, from, "InitError")
		return
	}
	e.initSeen = true
	e.initResp = resp
	e.mu.Unlock()
	close(e.initFailed)
	e.initErr <- resp
	if status == http.StatusRequestEntityTooLarge {
		writeTooLarge(w)
		return
	}
	writeAccepted(w)
}
