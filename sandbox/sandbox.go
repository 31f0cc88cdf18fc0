// Package sandbox defines the contract every sandbox backend satisfies (native namespaces
// + cgroups, or Docker), the resource model that turns a function's memory into kernel
// limits, and the cgroup handling both backends share.
package sandbox

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"
)

// NamePrefix starts the name of every kernel object faaslab creates, so that cleanup can
// find them all (and nothing else).
const NamePrefix = "faaslab"

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: the sandbox does not exist (any more).
	ErrNotFound = errors.New("sandbox not found")
	// ErrUnsupported: this host lacks a feature the backend needs; the wrapping error names it.
	ErrUnsupported = errors.New("not supported on this host")
	// ErrStopped: the sandbox was stopped or its process exited.
	ErrStopped = errors.New("sandbox stopped")
)

// Mount is a host path made visible inside the sandbox.
type Mount struct {
	Source   string // host path
	Target   string // path inside the sandbox
	ReadOnly bool
}

// Spec is everything a backend needs to create one sandbox.
type Spec struct {
	// ID names the sandbox and every kernel object made for it; it starts with NamePrefix
	// and is at most MaxIDLen characters of [a-z0-9-].
	ID       string
	Function string
	Resources
	// Command is the argv run inside the sandbox (Lambda: /var/runtime/bootstrap or
	// /var/task/bootstrap).
	Command []string
	Env     []string
	Mounts  []Mount
	// TmpBytes sizes /tmp (Lambda's ephemeral storage; 0 = DefaultTmpBytes). Backends back
	// it with storage not charged to the sandbox's memory where the host allows.
	TmpBytes int64
	// Image is the container image (docker backend only; "" = the faaslab runtime image).
	Image string
	// Log receives the sandbox's stdout and stderr. May be nil.
	Log io.Writer
}

// Stats are what the scheduler reads from a sandbox's cgroup.
type Stats struct {
	MemoryUsageBytes uint64
	MemoryPeakBytes  uint64 // memory.max_usage_in_bytes (v1) / memory.peak (v2)
	OOMKills         uint64 // oom kills seen in this cgroup
	CPUUsageNs       uint64
}

// Sandbox is one running function sandbox. Its process starts held: its network namespace
// exists (NetNSPath) so that netshape can plumb it, and the command runs only once Start is
// called.
type Sandbox interface {
	ID() string
	// NetNSPath is a path whose open fd is the sandbox's network namespace
	// (e.g. /proc/PID/ns/net).
	NetNSPath() string
	// PID is the host pid of the sandbox's init process.
	PID() int
	// CgroupPath is the sandbox's cgroup, relative to the hierarchy root (e.g. /faaslab/faaslab-fn-1).
	CgroupPath() string
	// Start lets the held command run.
	Start(ctx context.Context) error
	// Done is closed when the sandbox's process has exited, for whatever reason.
	Done() <-chan struct{}
	// ExitError describes how the process ended (nil while it runs or on exit status 0).
	ExitError() error
	Stats() (Stats, error)
	// Stop kills the sandbox's processes and removes its cgroup and namespaces. Idempotent.
	Stop(ctx context.Context) error
}

// Activator is implemented by sandboxes that hold back part of their limits while the
// runtime initialises: the native backend applies its CPU quota once the runtime is ready,
// as Lambda boosts the init phase. The scheduler calls Activate after init, before the
// first invocation.
type Activator interface {
	Activate(ctx context.Context) error
}

// Backend creates sandboxes.
type Backend interface {
	Name() string
	// Create makes a held sandbox (see Sandbox). On error nothing is left behind.
	Create(ctx context.Context, spec Spec) (Sandbox, error)
	// Reap removes everything a previous (crashed) daemon of this backend left behind.
	Reap(ctx context.Context) error
	// Close stops every sandbox this backend created and removes the host-level objects
	// (parent cgroup, ...).
	Close(ctx context.Context) error
}

// BackendConfig is the configuration every backend shares (each embeds it in its own
// Config). Zero values take the defaults (WithDefaults).
type BackendConfig struct {
	// CgroupParent holds every sandbox's cgroup (the backend's default parent). The
	// backend caps it at the host profile.
	CgroupParent string
	// UIDBase and UIDCount are the range each sandbox gets a uid (and the same gid) of its
	// own from (DefaultUIDBase, DefaultUIDCount): no two live sandboxes share one.
	UIDBase, UIDCount int
	// TmpDir holds the sandboxes' /tmp images (TmpDirFor(CgroupParent)). When the host
	// cannot use images (ErrNoTmpImages), /tmp is a tmpfs charged to the sandbox's
	// memory, and a warning is logged.
	TmpDir string
	Logger *slog.Logger
}

// WithDefaults fills the zero fields; defaultParent is the backend's own cgroup parent.
func (c BackendConfig) WithDefaults(defaultParent string) BackendConfig {
	c.CgroupParent = cmp.Or(c.CgroupParent, defaultParent)
	c.TmpDir = cmp.Or(c.TmpDir, TmpDirFor(c.CgroupParent))
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// MaxIDLen is the longest sandbox ID: it names cgroups, containers and /tmp images.
const MaxIDLen = 48

// ValidID reports whether id is a usable sandbox ID.
func ValidID(id string) bool {
	if !strings.HasPrefix(id, NamePrefix) || len(id) > MaxIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// DefaultTmpBytes sizes /tmp when a spec leaves TmpBytes at 0 (Lambda's default
// ephemeral storage, 512 MB).
const DefaultTmpBytes = 512 << 20

// TmpSize is the size of the spec's /tmp: TmpBytes, or DefaultTmpBytes.
func (s Spec) TmpSize() int64 {
	if s.TmpBytes <= 0 {
		return DefaultTmpBytes
	}
	return s.TmpBytes
}

// StopTimeout bounds how long a backend waits for a killed sandbox to go away.
const StopTimeout = 10 * time.Second
