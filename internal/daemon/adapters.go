package daemon

// Adapters between the packages' concrete types and the scheduler's small interfaces:
// the one boundary where they meet.

import (
	"context"
	"net/netip"
	"sync"

	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/scheduler"
)

// networkAdapter lets the scheduler attach sandboxes to a netshape.Host.
type networkAdapter struct {
	host   *netshape.Host
	shaper *lazyShaper
}

func (n networkAdapter) Attach(ctx context.Context, ep scheduler.NetworkEndpoint) (scheduler.NetworkAttachment, error) {
	a, err := n.host.Attach(ctx, netshape.Endpoint{SandboxID: ep.SandboxID, Function: ep.Function,
		MemoryMB: ep.MemoryMB, NetNSPath: ep.NetNSPath})
	if err != nil {
		return scheduler.NetworkAttachment{}, err
	}
	return scheduler.NetworkAttachment{IP: a.IP, HostVeth: a.HostVeth, Gateway: a.Gateway}, nil
}

func (n networkAdapter) Detach(ctx context.Context, sandboxID string) error {
	return n.host.Detach(ctx, sandboxID)
}

// ForgetFunction implements scheduler.FunctionForgetter: a deleted function's network and
// shaping totals go with its last sandbox.
func (n networkAdapter) ForgetFunction(name string) {
	n.host.ForgetFunction(name)
	n.shaper.ForgetFunction(name)
}

// runtimeAdapter lets the scheduler register sandboxes with the Runtime API server.
type runtimeAdapter struct {
	server  *runtime.Server
	apiAddr string // gateway:port, what AWS_LAMBDA_RUNTIME_API says
	// platformEnv is added to every sandbox (the object store's credentials and endpoint).
	platformEnv map[string]string
}

func (r runtimeAdapter) Register(sandboxID string, ip netip.Addr) scheduler.RuntimeEndpoint {
	return r.server.Register(sandboxID, ip)
}

func (r runtimeAdapter) Unregister(sandboxID string) { r.server.Unregister(sandboxID) }

func (r runtimeAdapter) Environment(e scheduler.SandboxEnv) []string {
	return runtime.Environment(runtime.EnvConfig{
		RuntimeAPI:   r.apiAddr,
		FunctionName: e.FunctionName,
		MemoryMB:     e.MemoryMB,
		Version:      e.Version,
		Handler:      e.Handler,
		Region:       e.Region,
		LogGroupName: e.LogGroup,
		SandboxID:    e.SandboxID,
		Started:      e.Started,
		User:         e.User,
		Platform:     r.platformEnv,
	})
}

func hostPort(addr netip.Addr, port int) string {
	return netip.AddrPortFrom(addr, uint16(port)).String()
}

// lazyShaper is handed to the netshape.Host before the uplink (and so the real shaper)
// exists; it forwards once set.
type lazyShaper struct {
	mu sync.Mutex
	s  *shape.Shaper
}

func (l *lazyShaper) set(s *shape.Shaper) {
	l.mu.Lock()
	l.s = s
	l.mu.Unlock()
}

func (l *lazyShaper) get() *shape.Shaper {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s
}

func (l *lazyShaper) Update(members []netshape.Member) error {
	s := l.get()
	if s == nil {
		return nil
	}
	sm := make([]shape.Member, len(members))
	for i, m := range members {
		sm[i] = shape.Member{SandboxID: m.SandboxID, Function: m.Function, MemoryMB: m.MemoryMB, IP: m.IP,
			Priority: shape.PriorityForMemory(m.MemoryMB)}
	}
	return s.Update(sm)
}

func (l *lazyShaper) ForgetFunction(name string) {
	if s := l.get(); s != nil {
		s.ForgetFunction(name)
	}
}

func (l *lazyShaper) Close() error {
	if s := l.get(); s != nil {
		return s.Close()
	}
	return nil
}
