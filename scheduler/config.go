// Package scheduler is the FaaS provider's brain on one host: the function registry, warm
// pools with keep-alive, placement within the host profile's memory, a FIFO queue beyond it,
// per-function reserved concurrency, and the lifecycle of one invocation (cold start, invoke,
// timeout, crash, OOM) with Lambda's REPORT lines, structured records and Prometheus metrics.
//
// It consumes three small interfaces (Backend from package sandbox, Network and RuntimeAPI
// defined here) so that cmd/faaslab wires the real implementations and tests use fakes
// (package schedulertest).
package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/faaslab/faaslab/sandbox"
)

// Defaults, in one place.
const (
	DefaultKeepAlive   = 10 * time.Minute
	DefaultInitTimeout = 10 * time.Second // Lambda's init phase limit
	DefaultMaxQueue    = 1000
	DefaultMaxAsync    = 10000
	DefaultTimeoutSec  = 3
	DefaultMemoryMB    = 128
	MinTimeoutSec      = 1
	MaxTimeoutSec      = 900
	DefaultTmpBytes    = sandbox.DefaultTmpBytes // Lambda's default ephemeral storage
	// MinEphemeralStorageMB and MaxEphemeralStorageMB bound a function's /tmp (Lambda's).
	MinEphemeralStorageMB = 512
	MaxEphemeralStorageMB = 10240
	DefaultRegion         = "us-east-1"
	DefaultAccountID      = "000000000000"
	DefaultSandboxPrefix  = sandbox.NamePrefix
	// DefaultEventRetryDelay is Lambda's wait before retrying a failed Event invocation.
	DefaultEventRetryDelay = time.Minute
	// LogTailBytes is how much of an invocation's log X-Amz-Log-Type: Tail returns.
	LogTailBytes = 4096
)

// Config is everything the scheduler can be told. Start from DefaultConfig.
type Config struct {
	// Profile is the emulated host; placement never exceeds its memory.
	Profile  sandbox.Profile
	CPUModel sandbox.CPUModel
	// StateDir holds function definitions and code (StateDir/functions/NAME/...), so a
	// daemon restart keeps its functions. Required.
	StateDir string
	// ImageFunctions says the backend runs container images (PackageType Image: the
	// docker backend). Without it CreateFunction refuses such a function.
	ImageFunctions bool
	// RuntimeBin is the host path of the static faaslab-runtime bootstrap, mounted read-only
	// at /var/runtime/bootstrap in sandboxes of runtime "faaslab".
	RuntimeBin string
	// Mounts are added to every sandbox (read-only binds of platform files, e.g. the object
	// store's CA bundle).
	Mounts []sandbox.Mount
	// KeepAlive is how long an idle sandbox is kept warm before it is stopped.
	KeepAlive time.Duration
	// ReapInterval is how often idle sandboxes are checked against KeepAlive
	// (0 = KeepAlive/10, clamped to 10 ms … 10 s).
	ReapInterval time.Duration
	// InitTimeout bounds a cold start's wait for the runtime's first /invocation/next.
	InitTimeout time.Duration
	// MaxQueue bounds the invocations waiting for room; past it Invoke fails with
	// ErrTooManyRequests (HTTP 429).
	MaxQueue int
	// MaxAsync bounds Event invocations accepted but not finished.
	MaxAsync int
	// EventRetryDelay is the wait before the first retry of an Event invocation that
	// ended in a function error; the second retry waits twice as long (Lambda: 1 and 2
	// minutes). Throttled or platform-failed events back off from it too, up to the
	// function's MaximumEventAgeInSeconds.
	EventRetryDelay time.Duration
	// TmpBytes sizes each sandbox's /tmp.
	TmpBytes int64
	// Region and AccountID make ARNs and AWS_REGION.
	Region    string
	AccountID string
	// HostID names this host in records.
	HostID string
	// SandboxPrefix starts every sandbox ID; it must start with sandbox.NamePrefix and
	// be at most 25 characters of [a-z0-9-] (room for a name and any count). Daemons
	// sharing a machine (tests) use distinct prefixes so their kernel objects never clash.
	SandboxPrefix string
	// LogDir, when set, receives one log file per sandbox (LogDir/FUNCTION/SANDBOX.log),
	// like a CloudWatch log stream: the sandbox's stdout/stderr and START/END/REPORT lines.
	LogDir string
	// Records receives one JSON line per invocation (nil = none). Writes are serialized.
	Records io.Writer
	Logger  *slog.Logger
}

// DefaultConfig returns the defaults for the c3.large profile; callers set StateDir and
// RuntimeBin.
func DefaultConfig() Config {
	return Config{
		Profile:         sandbox.DefaultHostProfile(),
		CPUModel:        sandbox.CPUModelPaper,
		KeepAlive:       DefaultKeepAlive,
		InitTimeout:     DefaultInitTimeout,
		MaxQueue:        DefaultMaxQueue,
		MaxAsync:        DefaultMaxAsync,
		EventRetryDelay: DefaultEventRetryDelay,
		TmpBytes:        DefaultTmpBytes,
		Region:          DefaultRegion,
		AccountID:       DefaultAccountID,
		HostID:          "faaslab-host",
		SandboxPrefix:   DefaultSandboxPrefix,
	}
}

// withDefaults fills zero fields so that a partly filled Config works.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Profile.Name == "" {
		c.Profile = d.Profile
	}
	c.CPUModel = cmp.Or(c.CPUModel, d.CPUModel)
	if c.KeepAlive <= 0 {
		c.KeepAlive = d.KeepAlive
	}
	if c.ReapInterval <= 0 {
		c.ReapInterval = min(max(c.KeepAlive/10, 10*time.Millisecond), 10*time.Second)
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = d.InitTimeout
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = d.MaxQueue
	}
	if c.MaxAsync <= 0 {
		c.MaxAsync = d.MaxAsync
	}
	if c.EventRetryDelay <= 0 {
		c.EventRetryDelay = d.EventRetryDelay
	}
	if c.TmpBytes <= 0 {
		c.TmpBytes = d.TmpBytes
	}
	c.Region = cmp.Or(c.Region, d.Region)
	c.AccountID = cmp.Or(c.AccountID, d.AccountID)
	c.HostID = cmp.Or(c.HostID, d.HostID)
	c.SandboxPrefix = cmp.Or(c.SandboxPrefix, d.SandboxPrefix)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.StateDir == "" {
		return c, errors.New("scheduler: Config.StateDir is empty: give a directory for function definitions and code")
	}
	// The longest ID newSandboxID can make from it: a one-character function name and
	// the largest count.
	if !sandbox.ValidID(c.SandboxPrefix + "-x" + longestSeqSuffix) {
		return c, fmt.Errorf("scheduler: SandboxPrefix %q must start with %q, use only [a-z0-9-] and be at most %d characters (sandbox IDs PREFIX-NAME-COUNT are at most %d)",
			c.SandboxPrefix, sandbox.NamePrefix, maxSandboxPrefixLen, sandbox.MaxIDLen)
	}
	return c, nil
}
