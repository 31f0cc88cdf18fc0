package client

import (
	"context"
	"net/http"
	"time"
)

// Host API paths (the daemon's own API beside Lambda's).
const (
	NetworkSamplePath = "/faaslab/v1/network/sample"
	NetworkPolicyPath = "/faaslab/v1/network/policy"
)

// Traffic counts bytes and packets in each direction from the sandboxes' point of view:
// upload leaves a sandbox towards the remote side, download enters it.
type Traffic struct {
	UploadBytes     uint64 `json:"upload_bytes"`
	DownloadBytes   uint64 `json:"download_bytes"`
	UploadPackets   uint64 `json:"upload_packets"`
	DownloadPackets uint64 `json:"download_packets"`
}

// SandboxTraffic is one sandbox's counters since it was attached.
type SandboxTraffic struct {
	SandboxID string `json:"sandbox_id"`
	Function  string `json:"function"`
	HostVeth  string `json:"host_veth"`
	Traffic
}

// ClassStat is one HTB class of the shaper: what it is configured to and what it sent.
type ClassStat struct {
	Direction      string `json:"direction"` // upload | download
	ClassID        string `json:"class_id"`  // tc's major:minor, e.g. 1:10
	Kind           string `json:"kind"`
	SandboxID      string `json:"sandbox_id,omitempty"`
	Function       string `json:"function,omitempty"`
	RateBitsPerSec uint64 `json:"rate_bits_per_sec"`
	CeilBitsPerSec uint64 `json:"ceil_bits_per_sec"`
	SentBytes      uint64 `json:"sent_bytes"`
	SentPackets    uint64 `json:"sent_packets"`
	Drops          uint32 `json:"drops"`
	Overlimits     uint32 `json:"overlimits"`
	BacklogBytes   uint32 `json:"backlog_bytes"`
}

// NetworkSample is GET /faaslab/v1/network/sample: a snapshot of the host's counters,
// cheap enough to take every 100 ms.
type NetworkSample struct {
	Time      time.Time                 `json:"time"`
	Sandboxes map[string]SandboxTraffic `json:"sandboxes"` // by sandbox ID
	Uplink    Traffic                   `json:"uplink"`    // the emulated NIC
	Classes   []ClassStat               `json:"classes,omitempty"`
}

// PolicyDocument is the wire form of a shaping policy: what to set (Policy, NIC,
// FixedRate, Strict) and, read back, the numbers in force.
type PolicyDocument struct {
	Policy    string `json:"policy"`               // none | fixed | equal | proportional | priority | netprio
	NIC       string `json:"nic,omitempty"`        // e.g. 560mbit, unlimited ("" = the profile's)
	FixedRate string `json:"fixed_rate,omitempty"` // policy fixed
	Strict    bool   `json:"strict,omitempty"`     // ceil = rate (any policy)
	// NICQueue: fair | fifo on PUT (policy none); read back, the NIC queue model in force
	// (fq_codel, sfq, flowhash or fifo; empty unless policy none with a NIC cap).
	NICQueue string `json:"nic_queue,omitempty"`
	// Read back: the numbers in force.
	NICBitsPerSec   int64 `json:"nic_bits_per_sec"`
	FixedBitsPerSec int64 `json:"fixed_bits_per_sec,omitempty"`
}

// ExperimentProgressPath is where a runner reports how far its experiment is.
const ExperimentProgressPath = "/faaslab/v1/experiment/progress"

// ExperimentProgress is an experiment's progress as the daemon exports it in /metrics.
type ExperimentProgress struct {
	Spec       string  `json:"spec"`
	Total      int     `json:"total"`
	Done       int     `json:"done"`
	ETASeconds float64 `json:"eta_seconds,omitempty"`
}

// ReportProgress tells the daemon how far an experiment is (for Prometheus and Grafana).
func (c *Client) ReportProgress(ctx context.Context, p ExperimentProgress) error {
	return c.do(ctx, http.MethodPut, ExperimentProgressPath, p, nil)
}

// NetworkSample reads the host's network counters.
func (c *Client) NetworkSample(ctx context.Context) (NetworkSample, error) {
	return call[NetworkSample](ctx, c, http.MethodGet, NetworkSamplePath, nil)
}

// Policy reads the shaping policy in force.
func (c *Client) Policy(ctx context.Context) (PolicyDocument, error) {
	return call[PolicyDocument](ctx, c, http.MethodGet, NetworkPolicyPath, nil)
}

// SetPolicy switches the shaping policy of a running daemon and returns what is in force.
func (c *Client) SetPolicy(ctx context.Context, p PolicyDocument) (PolicyDocument, error) {
	return call[PolicyDocument](ctx, c, http.MethodPut, NetworkPolicyPath, p)
}
