package runtime

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
)

// Server is the daemon's side of the Runtime API. It serves every sandbox on one listener
// (the bridge IP) and tells sandboxes apart by the request's source address, as Lambda's
// per-sandbox endpoint does implicitly.
type Server struct {
	logger *slog.Logger

	mu   sync.RWMutex
	byID map[string]*Endpoint
	byIP map[netip.Addr]*Endpoint
}

// NewServer returns a Server with no sandboxes registered. logger may be nil.
func NewServer(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		logger: logger,
		byID:   make(map[string]*Endpoint),
		byIP:   make(map[netip.Addr]*Endpoint),
	}
}

// Register makes sandboxID known to the server; requests whose source address is ip are
// served as that sandbox. An invalid ip (netip.Addr{}) registers the sandbox for HandlerFor
// only. Registering an ID again replaces (and unregisters) the previous endpoint; a new
// sandbox on an address another sandbox had takes the address over.
func (s *Server) Register(sandboxID string, ip netip.Addr) *Endpoint {
	e := newEndpoint(sandboxID, ip.Unmap())
	s.mu.Lock()
	old := s.byID[sandboxID]
	if old != nil && old.ip.IsValid() && s.byIP[old.ip] == old {
		delete(s.byIP, old.ip)
	}
	s.byID[sandboxID] = e
	if e.ip.IsValid() {
		s.byIP[e.ip] = e
	}
	s.mu.Unlock()
	if old != nil {
		old.shutdown()
	}
	return e
}

// Unregister forgets sandboxID: its pending Invoke returns ErrUnregistered, a pending GET
// /next gets a 500 (the runtime should exit), later requests get UnknownSandbox. Unknown IDs
// are ignored.
func (s *Server) Unregister(sandboxID string) {
	s.mu.Lock()
	e := s.byID[sandboxID]
	if e != nil {
		delete(s.byID, sandboxID)
		if e.ip.IsValid() && s.byIP[e.ip] == e {
			delete(s.byIP, e.ip)
		}
	}
	s.mu.Unlock()
	if e != nil {
		e.shutdown()
	}
}

// Endpoint returns the registered endpoint of sandboxID, or nil.
func (s *Server) Endpoint(sandboxID string) *Endpoint {
	s.mu.RLock()
	e := s.byID[sandboxID]
	s.mu.RUnlock()
	return e
}

// Handler serves the Runtime API for every registered sandbox, chosen by source address.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveByAddr)
}

// HandlerFor serves the Runtime API as sandboxID whatever the request's address (for modes
// where sandboxes share an IP and each gets its own listener). The sandbox is looked up per
// request, so the handler may be made before Register and outlives re-registration.
func (s *Server) HandlerFor(sandboxID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := s.Endpoint(sandboxID)
		if e == nil {
			writeError(w, http.StatusForbidden, ErrorTypeUnknownSandbox,
				"no sandbox "+sandboxID+" is registered with the runtime API")
			return
		}
		e.serve(w, r)
	})
}

func (s *Server) serveByAddr(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	var e *Endpoint
	if err == nil {
		s.mu.RLock()
		e = s.byIP[ap.Addr().Unmap()]
		s.mu.RUnlock()
	}
	if e == nil {
		s.logger.Warn("runtime api request from an unknown address",
			"remote", r.RemoteAddr, "path", r.URL.Path)
		writeError(w, http.StatusForbidden, ErrorTypeUnknownSandbox,
			"no sandbox is registered with the runtime API at "+r.RemoteAddr)
		return
	}
	e.serve(w, r)
}
