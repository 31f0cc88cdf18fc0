package scheduler

import (
	"context"
	"net/netip"
	"time"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox"
)

// Network plugs a sandbox's network namespace into the host network (netshape). The
// daemon adapts netshape's concrete types to this interface.
type Network interface {
	// Attach connects the sandbox's netns and returns its address. On error nothing is left.
	Attach(ctx context.Context, ep NetworkEndpoint) (NetworkAttachment, error)
	// Detach undoes Attach. Idempotent.
	Detach(ctx context.Context, sandboxID string) error
}

// FunctionForgetter is optionally implemented by a Network that keeps per-function totals
// (its Prometheus counters): the scheduler tells it when a deleted function's last sandbox
// has gone, so that those series end with the scheduler's own.
type FunctionForgetter interface {
	ForgetFunction(name string)
}

// NetworkEndpoint describes the sandbox to attach.
type NetworkEndpoint struct {
	SandboxID string
	Function  string
	MemoryMB  int
	NetNSPath string
	// PID is the host pid of the sandbox's (still held) init, for networks that classify
	// by process (network mode shared: cgroup v1 net_prio).
	PID int
}

// NetworkAttachment is the result of Attach.
type NetworkAttachment struct {
	IP       netip.Addr
	HostVeth string
	Gateway  netip.Addr
}

// RuntimeAPI is the daemon side of the Lambda Runtime API, which identifies sandboxes by
// their source IP.
type RuntimeAPI interface {
	// Register starts serving the sandbox at ip and returns its endpoint.
	Register(sandboxID string, ip netip.Addr) RuntimeEndpoint
	// Unregister stops serving it; pending Invoke calls fail. Idempotent.
	Unregister(sandboxID string)
	// Environment is the whole environment of a sandbox described by e: Lambda's reserved
	// variables (AWS_LAMBDA_RUNTIME_API, _HANDLER, AWS_LAMBDA_FUNCTION_NAME, ...) plus the
	// function's own (e.User, already validated against the reserved names).
	Environment(e SandboxEnv) []string
}

// SandboxEnv is what the runtime needs to build a sandbox's environment (it maps onto
// runtime.EnvConfig; the adapter adds the Runtime API address).
type SandboxEnv struct {
	SandboxID    string
	FunctionName string
	FunctionARN  string
	Version      string // "$LATEST"
	Handler      string
	Runtime      string
	MemoryMB     int
	TimeoutSec   int
	Region       string
	LogGroup     string    // /aws/lambda/NAME
	Started      time.Time // when the sandbox was created (names its log stream)
	TaskRoot     string    // /var/task
	User         map[string]string
}

// RuntimeEndpoint is one registered sandbox as the Runtime API sees it.
type RuntimeEndpoint interface {
	// Ready is closed when the runtime first asks for an invocation (init done).
	Ready() <-chan struct{}
	// InitError delivers what the runtime posted to /init/error.
	InitError() <-chan runtime.Response
	// Invoke hands inv to the runtime and waits for its response or error; it returns
	// ctx's error when ctx ends first.
	Invoke(ctx context.Context, inv runtime.Invocation) (runtime.Response, error)
}

// Deps are the scheduler's collaborators.
type Deps struct {
	Backend sandbox.Backend
	Network Network
	Runtime RuntimeAPI
}
