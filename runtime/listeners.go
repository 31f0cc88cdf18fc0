package runtime

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Listeners gives each sandbox a Runtime API listener of its own, for network modes where
// sandboxes share one address and the server cannot tell them apart by source (mode
// shared: every sandbox has the host's address).
type Listeners struct {
	server *Server
	host   netip.Addr // address to listen on (the gateway)

	mu   sync.Mutex
	open map[string]*http.Server // by sandbox ID
}

// NewListeners serves server's sandboxes on per-sandbox ports of host.
func NewListeners(server *Server, host netip.Addr) *Listeners {
	return &Listeners{server: server, host: host, open: map[string]*http.Server{}}
}

// Open starts a listener on host:0 serving as sandboxID and returns its address (what
// AWS_LAMBDA_RUNTIME_API says). Opening an ID again replaces its listener.
func (l *Listeners) Open(sandboxID string) (string, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(l.host, 0).String())
	if err != nil {
		return "", fmt.Errorf("runtime API listener of %s on %s: %w", sandboxID, l.host, err)
	}
	srv := &http.Server{Handler: l.server.HandlerFor(sandboxID), ReadHeaderTimeout: 10 * time.Second}
	l.mu.Lock()
	old := l.open[sandboxID]
	l.open[sandboxID] = srv
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.server.logger.Error("runtime API listener failed", "sandbox", sandboxID, "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Close stops sandboxID's listener. Idempotent.
func (l *Listeners) Close(sandboxID string) {
	l.mu.Lock()
	srv := l.open[sandboxID]
	delete(l.open, sandboxID)
	l.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// CloseAll stops every listener.
func (l *Listeners) CloseAll() {
	l.mu.Lock()
	open := l.open
	l.open = map[string]*http.Server{}
	l.mu.Unlock()
	for _, srv := range open {
		srv.Close()
	}
}
