// Package target is the runner's view of faaslab: the few things an experiment needs from a
// host (one daemon), as interfaces the runner consumes, implemented over the HTTP client
// package (HTTPHost), by a daemon the runner starts itself (Launch), and in memory (Fake)
// for the runner's tests.
package target

import (
	"context"
	"errors"

	"github.com/faaslab/faaslab/client"
)

// Sentinel errors.
var (
	// ErrNoRecords: the daemon's records file is not readable from here (a remote daemon);
	// the daemon's fields of invocation records stay empty.
	ErrNoRecords = errors.New("the daemon's records are not readable from here")
	// ErrNoIperfPool: the host serves no iperf3 servers.
	ErrNoIperfPool = errors.New("no iperf3 server pool")
	// ErrNoS3Store: the daemon has no S3 store and dataset (GET /faaslab/v1/data).
	ErrNoS3Store = errors.New("needs the S3 store (GET /faaslab/v1/data): this daemon does not serve it")
	// ErrConfig: a host cannot be given the configuration asked for.
	ErrConfig = errors.New("host configuration")
)

// Function is what the runner creates: one per co-located worker.
type Function struct {
	Name       string
	Handler    string // built-in handler (runtime "faaslab")
	MemoryMB   int
	TimeoutSec int
}

// Policy is the shaping policy of a trial.
type Policy struct {
	Name      string // none | fixed | equal | proportional | priority
	Strict    bool   // proportional: ceil = rate
	NIC       string // "" = the profile's
	FixedRate string // policy fixed
	NICQueue  string // fair | fifo ("" = the daemon's default)
}

// IperfPool is one iperf3 server per port, all at Host.
type IperfPool struct {
	Host  string `json:"host"`
	Ports []int  `json:"ports"`
}

// Object is one object of the dataset.
type Object struct {
	Key    string
	Bytes  int64
	SHA256 string
}

// DataSet is one chunk set of the dataset (e.g. 10mb: the 10 MB objects).
type DataSet struct {
	Bucket      string
	Name        string
	ObjectBytes int64
	Objects     []Object
}

// DaemonRecord is the part of the daemon's invocation record the runner joins on the
// request ID (scheduler.Record's JSON names).
type DaemonRecord struct {
	RequestID  string  `json:"request_id"`
	DurationMs float64 `json:"duration_ms"`
	BilledMs   int64   `json:"billed_ms"`
	InitMs     float64 `json:"init_ms"`
	Start      string  `json:"start"` // cold | warm
	SandboxID  string  `json:"sandbox_id"`
	HostID     string  `json:"host_id"`
}

// Host is one faaslab host (one daemon): everything the runner does to it.
type Host interface {
	Name() string // the endpoint, written into samples
	CreateFunction(ctx context.Context, f Function) error
	DeleteFunction(ctx context.Context, name string) error
	Invoke(ctx context.Context, name string, payload []byte) (client.InvokeResult, error)
	SetPolicy(ctx context.Context, p Policy) error
	Sample(ctx context.Context) (client.NetworkSample, error)
	// IperfPool returns n iperf3 servers (one per co-located client), ready to accept.
	IperfPool(ctx context.Context, n int) (IperfPool, error)
	// DataSet ensures the first count objects of a chunk set exist and lists them.
	DataSet(ctx context.Context, name string, count int) (DataSet, error)
	// DeleteUploads removes what run's put workloads uploaded to the host's store.
	DeleteUploads(ctx context.Context, run string) error
	// Records returns the daemon's records by request ID, or ErrNoRecords.
	Records(ctx context.Context) (map[string]DaemonRecord, error)
	// ReportProgress tells the daemon how far the experiment is (its /metrics show it).
	ReportProgress(ctx context.Context, p client.ExperimentProgress) error
}

// HostConfig is what only a daemon (re)start changes.
type HostConfig struct {
	Profile  string
	Backend  string
	CPUModel string
}

// Fleet hands the runner its hosts, configured as a trial needs.
type Fleet interface {
	// Hosts returns the hosts running cfg (restarting a daemon the runner owns if needed).
	Hosts(ctx context.Context, cfg HostConfig) ([]Host, error)
	// Accepts says before anything runs whether the fleet can give every configuration
	// a run needs, in order.
	Accepts(cfgs []HostConfig) error
	// Describe says what the fleet is, for the manifest: endpoints and what it could
	// not honour.
	Describe() (endpoints []string, unhonoured []string)
	Close() error
}
