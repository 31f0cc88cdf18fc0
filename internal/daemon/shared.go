package daemon

// Network mode "shared": sandboxes live in the host network namespace (no veth) and reach
// the remote side through the host's route over the bridge and the uplink. Their upload is
// classified by cgroup v1 net_prio: each sandbox's processes sit in a net_prio cgroup whose
// ifpriomap maps the uplink's host end to the sandbox's HTB class, so the kernel stamps
// skb->priority = classid and HTB enqueues there without a filter. Download gets only the
// NIC cap: all sandboxes share the host's address, so nothing tells their flows apart on the
// way in. Because they share an address, the Runtime API tells them apart by port: each
// sandbox gets its own listener on the gateway.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/scheduler"
)

// Network modes (NetworkConfig.Mode).
const (
	networkModeIsolated = "isolated"
	networkModeShared   = "shared"
)

// ErrNetworkMode: the network mode cannot run with this configuration.
var ErrNetworkMode = errors.New("invalid network mode")

// CheckNetworkMode validates the mode against the backend and policy before anything is
// created, so a wrong combination fails at start with a message saying what to change.
func CheckNetworkMode(cfg Config, policy shape.PolicyConfig) error {
	switch cfg.Network.Mode {
	case "", networkModeIsolated:
		return nil
	case networkModeShared:
	default:
		return fmt.Errorf("%w %q: choose %s or %s", ErrNetworkMode, cfg.Network.Mode, networkModeIsolated, networkModeShared)
	}
	if cfg.Backend != "native" && cfg.Backend != "" {
		return fmt.Errorf("%w: mode %s needs --backend native (backend %q keeps its own network namespaces)", ErrNetworkMode, networkModeShared, cfg.Backend)
	}
	if policy.Name != shape.PolicyNetPrio {
		return fmt.Errorf("%w: mode %s puts every sandbox on the host's address, so policy %q (which classifies by sandbox IP) cannot tell them apart: use --policy %s, or --network-mode %s",
			ErrNetworkMode, networkModeShared, policy.Name, shape.PolicyNetPrio, networkModeIsolated)
	}
	return nil
}

// isShared reports whether the daemon runs in network mode shared.
func (c Config) isShared() bool { return c.Network.Mode == networkModeShared }

// sharedNet is both the scheduler's Network and RuntimeAPI in mode shared: it keeps each
// sandbox in its own net_prio cgroup mapped to its HTB class, and gives it its own Runtime
// API listener.
type sharedNet struct {
	log     *slog.Logger
	shaper  *lazyShaper
	runtime *runtime.Server
	groups  *shape.NetPrioGroups
	ports   *runtime.Listeners
	gateway netip.Addr
	// device is the host-netns device whose ifpriomap entry classifies a sandbox's upload:
	// the uplink's host end, where the upload HTB sits. The socket's packets leave through
	// the bridge, and the bridge hands the same skb (socket still attached) to the uplink
	// port, where net_prio stamps its priority.
	device string

	mu      sync.Mutex
	members map[string]netshape.Member
	shapeMu sync.Mutex // serialises shaper updates with the priomap writes
}

func newSharedNet(cfg Config, host *netshape.Host, shaper *lazyShaper, rt *runtime.Server, logger *slog.Logger) (*sharedNet, error) {
	groups, err := shape.OpenNetPrioGroups(cfg.Network.Prefix, logger)
	if err != nil {
		return nil, fmt.Errorf("network mode %s: %w (it needs a cgroup v1 host: use --network-mode %s there)", networkModeShared, err, networkModeIsolated)
	}
	hostEnd, _, _ := host.UplinkLinks()
	logger.Info("network mode shared: upload classified by net_prio", "cgroups", groups.Root(), "device", hostEnd)
	return &sharedNet{log: logger, shaper: shaper, runtime: rt, groups: groups,
		ports: runtime.NewListeners(rt, host.Gateway()), gateway: host.Gateway(), device: hostEnd,
		members: map[string]netshape.Member{}}, nil
}

// Attach puts the held sandbox's init into its own net_prio cgroup and maps the uplink to
// its HTB class. On error nothing is left.
func (s *sharedNet) Attach(ctx context.Context, ep scheduler.NetworkEndpoint) (scheduler.NetworkAttachment, error) {
	if ep.PID <= 0 {
		return scheduler.NetworkAttachment{}, fmt.Errorf("attach %s: no process id: mode %s classifies by process", ep.SandboxID, networkModeShared)
	}
	cg, err := s.groups.Add(ep.SandboxID, ep.PID)
	if err != nil {
		return scheduler.NetworkAttachment{}, err
	}
	s.mu.Lock()
	s.members[ep.SandboxID] = netshape.Member{SandboxID: ep.SandboxID, Function: ep.Function, MemoryMB: ep.MemoryMB}
	s.mu.Unlock()
	if err := s.classify(ep.SandboxID, cg); err != nil {
		s.Detach(ctx, ep.SandboxID)
		return scheduler.NetworkAttachment{}, fmt.Errorf("attach %s: %w", ep.SandboxID, err)
	}
	return scheduler.NetworkAttachment{IP: s.gateway, Gateway: s.gateway}, nil
}

// classify re-applies the plan with the new member, then writes its class into the priomap.
func (s *sharedNet) classify(id, cg string) error {
	s.shapeMu.Lock()
	defer s.shapeMu.Unlock()
	if err := s.updateShaperLocked(); err != nil {
		return err
	}
	sh := s.shaper.get()
	if sh == nil {
		return errors.New("no shaper: mode shared needs policy netprio")
	}
	prio, ok := sh.Plan().SkbPriority[id]
	if !ok {
		return fmt.Errorf("policy %s gives sandbox %s no skb priority: mode %s needs policy %s", sh.Policy().Name, id, networkModeShared, shape.PolicyNetPrio)
	}
	return shape.SetIfPrioMap(cg, s.device, prio)
}

func (s *sharedNet) updateShaperLocked() error {
	s.mu.Lock()
	ms := make([]netshape.Member, 0, len(s.members))
	for _, m := range s.members {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	slices.SortFunc(ms, func(a, b netshape.Member) int { return strings.Compare(a.SandboxID, b.SandboxID) })
	return s.shaper.Update(ms)
}

// ForgetFunction implements scheduler.FunctionForgetter: a deleted function's shaping
// totals go with its last sandbox.
func (s *sharedNet) ForgetFunction(name string) { s.shaper.ForgetFunction(name) }

// Detach drops the sandbox's class and removes its cgroup (its process is gone by now:
// the scheduler stops the sandbox first). Idempotent.
func (s *sharedNet) Detach(ctx context.Context, sandboxID string) error {
	s.mu.Lock()
	_, ok := s.members[sandboxID]
	delete(s.members, sandboxID)
	s.mu.Unlock()
	var errs []error
	if ok {
		s.shapeMu.Lock()
		errs = append(errs, s.updateShaperLocked())
		s.shapeMu.Unlock()
	}
	errs = append(errs, s.groups.Remove(sandboxID))
	return errors.Join(errs...)
}

// Close stops every per-sandbox Runtime API listener, removes the cgroups left and
// unmounts net_prio if this daemon mounted it. Call it after the scheduler is closed.
func (s *sharedNet) Close() error {
	s.ports.CloseAll()
	s.mu.Lock()
	ids := make([]string, 0, len(s.members))
	for id := range s.members {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, s.Detach(context.Background(), id))
	}
	return errors.Join(append(errs, s.groups.Close())...)
}

// runtimeAPI is the sharedNet seen as the scheduler's RuntimeAPI.
func (s *sharedNet) runtimeAPI() scheduler.RuntimeAPI { return sharedRuntime{s} }

type sharedRuntime struct{ s *sharedNet }

// Register registers the sandbox for its own listener only (no address: every sandbox has
// the host's).
func (r sharedRuntime) Register(sandboxID string, _ netip.Addr) scheduler.RuntimeEndpoint {
	return r.s.runtime.Register(sandboxID, netip.Addr{})
}

// Unregister stops serving the sandbox and closes its listener. Idempotent.
func (r sharedRuntime) Unregister(sandboxID string) {
	r.s.runtime.Unregister(sandboxID)
	r.s.ports.Close(sandboxID)
}

// Environment opens the sandbox's Runtime API listener on the gateway and points
// AWS_LAMBDA_RUNTIME_API at it. The scheduler's teardown calls Unregister, which closes it,
// even when the cold start fails before Register.
func (r sharedRuntime) Environment(e scheduler.SandboxEnv) []string {
	addr, err := r.s.ports.Open(e.SandboxID)
	if err != nil {
		// The runtime then cannot connect and its init fails, which the scheduler reports.
		r.s.log.Error("runtime API listener for sandbox failed", "sandbox", e.SandboxID, "err", err)
		addr = hostPort(r.s.gateway, 0)
	}
	return runtimeAdapter{server: r.s.runtime, apiAddr: addr}.Environment(e)
}
