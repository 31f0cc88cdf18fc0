// Package schedulertest provides an in-process fake of everything the scheduler consumes:
// a sandbox.Backend whose sandboxes are plain Go values, a Network and a RuntimeAPI
// whose endpoints call a Go handler. It lets scheduler and API tests (and benchmarks)
// exercise placement, pools and the wire formats without kernel objects.
package schedulertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/scheduler"
)

// Handler answers one invocation inside a fake sandbox. It runs on the invoking goroutine
// and must return when ctx ends (return ctx.Err()).
type Handler func(ctx context.Context, sb *Sandbox, inv runtime.Invocation) (runtime.Response, error)

// InitFunc runs when a fake sandbox starts; it decides how init ends (ep.SetReady,
// ep.PostInitError, sb.Exit, or nothing: an init timeout).
type InitFunc func(sb *Sandbox, ep *Endpoint)

// Fake implements sandbox.Backend, scheduler.Network (with FunctionForgetter) and
// scheduler.RuntimeAPI.
type Fake struct {
	// Handler answers invocations (default Echo). Set before use.
	Handler Handler
	// Init decides how a started sandbox initializes (default: ready at once).
	Init InitFunc
	// CreateErr, when set, makes Create fail.
	CreateErr error

	mu        sync.Mutex
	sandboxes map[string]*Sandbox
	endpoints map[string]*Endpoint
	created   []string
	forgotten []string
	nextIP    uint32
	stopped   atomic.Int64
}

// New returns a fake whose sandboxes echo their payload.
func New() *Fake {
	return &Fake{Handler: Echo, sandboxes: map[string]*Sandbox{}, endpoints: map[string]*Endpoint{}}
}

// Deps returns scheduler.Deps backed by f.
func (f *Fake) Deps() scheduler.Deps {
	return scheduler.Deps{Backend: f, Network: f, Runtime: f}
}

// Echo answers with the payload.
func Echo(_ context.Context, _ *Sandbox, inv runtime.Invocation) (runtime.Response, error) {
	return runtime.Response{Payload: inv.Payload}, nil
}

// Name implements sandbox.Backend.
func (f *Fake) Name() string { return "fake" }

// Create implements sandbox.Backend.
func (f *Fake) Create(_ context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	if f.CreateErr != nil {
		return nil, f.CreateErr
	}
	if !sandbox.ValidID(spec.ID) {
		return nil, fmt.Errorf("fake: invalid sandbox id %q", spec.ID)
	}
	sb := &Sandbox{fake: f, Spec: spec, done: make(chan struct{})}
	sb.peak.Store(uint64(20 << 20))
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.sandboxes[spec.ID]; dup {
		return nil, fmt.Errorf("fake: sandbox %s exists", spec.ID)
	}
	f.sandboxes[spec.ID] = sb
	f.created = append(f.created, spec.ID)
	return sb, nil
}

// Reap implements sandbox.Backend.
func (f *Fake) Reap(context.Context) error { return nil }

// Close implements sandbox.Backend.
func (f *Fake) Close(ctx context.Context) error {
	for _, sb := range f.Live() {
		sb.Stop(ctx)
	}
	return nil
}

// Attach implements scheduler.Network.
func (f *Fake) Attach(_ context.Context, ep scheduler.NetworkEndpoint) (scheduler.NetworkAttachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextIP++
	n := f.nextIP + 1
	ip := netip.AddrFrom4([4]byte{10, 99, byte(n >> 8), byte(n)})
	return scheduler.NetworkAttachment{IP: ip, HostVeth: "faaslabfake" + fmt.Sprint(n), Gateway: netip.MustParseAddr("10.99.0.1")}, nil
}

// Detach implements scheduler.Network.
func (f *Fake) Detach(context.Context, string) error { return nil }

// ForgetFunction implements scheduler.FunctionForgetter.
func (f *Fake) ForgetFunction(name string) {
	f.mu.Lock()
	f.forgotten = append(f.forgotten, name)
	f.mu.Unlock()
}

// Forgotten lists the functions the scheduler told the network to forget, in order.
func (f *Fake) Forgotten() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.forgotten)
}

// Register implements scheduler.RuntimeAPI.
func (f *Fake) Register(id string, _ netip.Addr) scheduler.RuntimeEndpoint {
	ep := &Endpoint{fake: f, id: id, ready: make(chan struct{}), initErr: make(chan runtime.Response, 1),
		gone: make(chan struct{})}
	f.mu.Lock()
	f.endpoints[id] = ep
	if sb := f.sandboxes[id]; sb != nil {
		sb.ep = ep
	}
	f.mu.Unlock()
	return ep
}

// Unregister implements scheduler.RuntimeAPI.
func (f *Fake) Unregister(id string) {
	f.mu.Lock()
	ep := f.endpoints[id]
	delete(f.endpoints, id)
	f.mu.Unlock()
	if ep != nil {
		ep.goneOnce.Do(func() { close(ep.gone) })
	}
}

// Environment implements scheduler.RuntimeAPI.
// The function's variables come first, sorted.
func (f *Fake) Environment(e scheduler.SandboxEnv) []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(e.User)) {
		env = append(env, k+"="+e.User[k])
	}
	return append(env, "AWS_LAMBDA_FUNCTION_NAME="+e.FunctionName, "_HANDLER="+e.Handler,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", e.MemoryMB), "AWS_LAMBDA_RUNTIME_API=10.99.0.1:9001")
}

// Created lists the IDs of every sandbox ever created, in order.
func (f *Fake) Created() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.created)
}

// Live lists sandboxes not yet stopped.
func (f *Fake) Live() []*Sandbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*Sandbox
	for _, sb := range f.sandboxes {
		if !sb.stopped.Load() {
			out = append(out, sb)
		}
	}
	slices.SortFunc(out, func(a, b *Sandbox) int { return compare(a.Spec.ID, b.Spec.ID) })
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns a sandbox by ID (nil when unknown).
func (f *Fake) Get(id string) *Sandbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sandboxes[id]
}

// Stopped counts Stop calls that stopped a sandbox.
func (f *Fake) Stopped() int64 { return f.stopped.Load() }

// Sandbox is a fake sandbox.
type Sandbox struct {
	fake *Fake
	Spec sandbox.Spec
	ep   *Endpoint

	done     chan struct{}
	doneOnce sync.Once
	exitErr  atomic.Pointer[error]
	stopped  atomic.Bool
	started  atomic.Bool
	peak     atomic.Uint64
	oomKills atomic.Uint64
	cpuNs    atomic.Uint64
	lost     atomic.Bool // Stats fails, as when the cgroup is gone
	// Invocations counts invocations this sandbox answered.
	Invocations atomic.Int64
}

func (sb *Sandbox) ID() string         { return sb.Spec.ID }
func (sb *Sandbox) NetNSPath() string  { return "/proc/self/ns/net" }
func (sb *Sandbox) PID() int           { return 1 }
func (sb *Sandbox) CgroupPath() string { return "/faaslabfake/" + sb.Spec.ID }
func (sb *Sandbox) Done() <-chan struct{} {
	return sb.done
}

// Start runs the fake's Init (default: ready at once).
func (sb *Sandbox) Start(context.Context) error {
	if sb.stopped.Load() {
		return sandbox.ErrStopped
	}
	sb.started.Store(true)
	sb.fake.mu.Lock()
	ep, init := sb.ep, sb.fake.Init
	sb.fake.mu.Unlock()
	if ep == nil {
		return errors.New("fake: sandbox started before its runtime endpoint was registered")
	}
	if init == nil {
		ep.SetReady()
		return nil
	}
	go init(sb, ep)
	return nil
}

// ExitError implements sandbox.Sandbox.
func (sb *Sandbox) ExitError() error {
	if p := sb.exitErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats implements sandbox.Sandbox.
func (sb *Sandbox) Stats() (sandbox.Stats, error) {
	if sb.lost.Load() {
		return sandbox.Stats{}, fmt.Errorf("stats of %s: %w", sb.Spec.ID, sandbox.ErrNotFound)
	}
	return sandbox.Stats{CPUUsageNs: sb.cpuNs.Load(), MemoryPeakBytes: sb.peak.Load(), MemoryUsageBytes: sb.peak.Load(),
		OOMKills: sb.oomKills.Load()}, nil
}

// Stop implements sandbox.Sandbox.
func (sb *Sandbox) Stop(context.Context) error {
	if sb.stopped.Swap(true) {
		return nil
	}
	sb.fake.stopped.Add(1)
	sb.Exit(errors.New("signal: killed"))
	return nil
}

// Stopped reports whether Stop ran.
func (sb *Sandbox) Stopped() bool { return sb.stopped.Load() }

// Exit ends the sandbox's process with err (nil = exit status 0).
func (sb *Sandbox) Exit(err error) {
	sb.doneOnce.Do(func() {
		if err != nil {
			sb.exitErr.Store(&err)
		}
		close(sb.done)
	})
}

// OOM simulates the kernel's OOM killer: an oom kill in the cgroup, then the process dies.
func (sb *Sandbox) OOM() {
	sb.oomKills.Add(1)
	sb.peak.Store(uint64(sb.Spec.MemoryBytes))
	sb.Exit(errors.New("signal: killed"))
}

// SetPeak sets the memory peak Stats reports.
func (sb *Sandbox) SetPeak(bytes uint64) { sb.peak.Store(bytes) }

// SetCPUUsage sets the CPU time Stats reports.
func (sb *Sandbox) SetCPUUsage(ns uint64) { sb.cpuNs.Store(ns) }

// LoseCgroup makes Stats fail from now on, as it does once the sandbox's cgroup is gone.
func (sb *Sandbox) LoseCgroup() { sb.lost.Store(true) }

// Log writes to the sandbox's log as its stdout would.
func (sb *Sandbox) Log(s string) {
	if sb.Spec.Log != nil {
		sb.Spec.Log.Write([]byte(s))
	}
}

// Endpoint is a fake Runtime API endpoint.
type Endpoint struct {
	fake      *Fake
	id        string
	ready     chan struct{}
	readyOnce sync.Once
	initErr   chan runtime.Response
	gone      chan struct{}
	goneOnce  sync.Once
}

// SetReady marks init done.
func (ep *Endpoint) SetReady() { ep.readyOnce.Do(func() { close(ep.ready) }) }

// PostInitError delivers an /init/error.
func (ep *Endpoint) PostInitError(r runtime.Response) {
	select {
	case ep.initErr <- r:
	default:
	}
}

func (ep *Endpoint) Ready() <-chan struct{}             { return ep.ready }
func (ep *Endpoint) InitError() <-chan runtime.Response { return ep.initErr }

// Invoke calls the fake's Handler with the endpoint's sandbox.
func (ep *Endpoint) Invoke(ctx context.Context, inv runtime.Invocation) (runtime.Response, error) {
	select {
	case <-ep.gone:
		return runtime.Response{}, runtime.ErrUnregistered
	default:
	}
	ep.fake.mu.Lock()
	sb, h := ep.fake.sandboxes[ep.id], ep.fake.Handler
	ep.fake.mu.Unlock()
	sb.Invocations.Add(1)
	return h(ctx, sb, inv)
}
