// Package netapi serves the network part of the daemon's host API:
//
//	GET /faaslab/v1/network/sample   per-sandbox and uplink counters (cheap: sample every 100 ms)
//	GET /faaslab/v1/network/policy   the shaping policy in force
//	PUT /faaslab/v1/network/policy   switch policy on a running daemon ({"policy":"equal","nic":"1gbit",...})
//
// The documents are the client package's wire types.
package netapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/faaslab/faaslab/internal/httpjson"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
)

// ErrNoShaper: the daemon runs without a shaper (yet).
var ErrNoShaper = errors.New("shaping is not running on this daemon")

// Deps is what the handlers need.
type Deps struct {
	// Sample reads the host's link counters.
	Sample func() (netshape.Sample, error)
	// Shaper returns the shaper in force, nil when none runs.
	Shaper func() *shape.Shaper
	// DefaultNICBitsPerSec is the NIC a policy PUT without "nic" gets (the host profile's).
	DefaultNICBitsPerSec int64
	// Check rejects a policy this daemon cannot run (kernel features, network mode).
	Check func(shape.PolicyConfig) error
}

// Register adds the network routes to mux.
func Register(mux *http.ServeMux, d Deps) {
	mux.HandleFunc("GET "+client.NetworkSamplePath, MakeSampleHandler(d))
	mux.HandleFunc("GET "+client.NetworkPolicyPath, MakeGetPolicyHandler(d))
	mux.HandleFunc("PUT "+client.NetworkPolicyPath, MakeSetPolicyHandler(d))
}

// MakeSampleHandler serves GET /faaslab/v1/network/sample.
func MakeSampleHandler(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := d.Sample()
		if err != nil {
			httpjson.Error(w, http.StatusInternalServerError, err)
			return
		}
		var classes []shape.ClassStat
		if sh := d.Shaper(); sh != nil {
			if classes, err = sh.ClassStats(); err != nil {
				httpjson.Error(w, http.StatusInternalServerError, fmt.Errorf("read shaping classes: %w", err))
				return
			}
		}
		httpjson.Write(w, http.StatusOK, SampleDocument(s, classes))
	}
}

// withShaper calls h with the shaper in force, or answers 503 ErrNoShaper when none runs.
func withShaper(d Deps, h func(w http.ResponseWriter, r *http.Request, sh *shape.Shaper)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sh := d.Shaper()
		if sh == nil {
			httpjson.Error(w, http.StatusServiceUnavailable, ErrNoShaper)
			return
		}
		h(w, r, sh)
	}
}

// MakeGetPolicyHandler serves GET /faaslab/v1/network/policy.
func MakeGetPolicyHandler(d Deps) http.HandlerFunc {
	return withShaper(d, func(w http.ResponseWriter, r *http.Request, sh *shape.Shaper) {
		httpjson.Write(w, http.StatusOK, PolicyDocument(sh.Policy()))
	})
}

// MakeSetPolicyHandler serves PUT /faaslab/v1/network/policy: the policy is parsed and
// checked before the running one is touched, so a bad request changes nothing.
func MakeSetPolicyHandler(d Deps) http.HandlerFunc {
	return withShaper(d, func(w http.ResponseWriter, r *http.Request, sh *shape.Shaper) {
		var doc client.PolicyDocument
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&doc); err != nil {
			httpjson.Error(w, http.StatusBadRequest, fmt.Errorf("policy document: %w", err))
			return
		}
		p, err := shape.ParsePolicyConfig(shape.PolicySpec{Policy: doc.Policy, NIC: doc.NIC, FixedRate: doc.FixedRate, Strict: doc.Strict, NICQueue: doc.NICQueue}, d.DefaultNICBitsPerSec)
		if err == nil && d.Check != nil {
			err = d.Check(p)
		}
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err)
			return
		}
		if err := sh.SetPolicy(p); err != nil {
			httpjson.Error(w, http.StatusInternalServerError, err)
			return
		}
		httpjson.Write(w, http.StatusOK, PolicyDocument(p))
	})
}

// SampleDocument converts the netshape and shape counters to the wire form.
func SampleDocument(s netshape.Sample, classes []shape.ClassStat) client.NetworkSample {
	doc := client.NetworkSample{Time: s.Time, Uplink: trafficDocument(s.Uplink),
		Sandboxes: make(map[string]client.SandboxTraffic, len(s.Sandboxes))}
	for id, t := range s.Sandboxes {
		doc.Sandboxes[id] = client.SandboxTraffic{SandboxID: t.SandboxID, Function: t.Function,
			HostVeth: t.HostVeth, Traffic: trafficDocument(t.Traffic)}
	}
	for _, c := range classes {
		doc.Classes = append(doc.Classes, client.ClassStat{
			Direction: string(c.Direction), ClassID: shape.FormatHandle(c.ClassID),
			Kind: string(c.Kind), SandboxID: c.SandboxID, Function: c.Function,
			RateBitsPerSec: c.RateBitsPerSec, CeilBitsPerSec: c.CeilBitsPerSec,
			SentBytes: c.SentBytes, SentPackets: c.SentPackets, Drops: c.Drops,
			Overlimits: c.Overlimits, BacklogBytes: c.BacklogBytes,
		})
	}
	return doc
}

func trafficDocument(t netshape.Traffic) client.Traffic {
	return client.Traffic{UploadBytes: t.UploadBytes, DownloadBytes: t.DownloadBytes,
		UploadPackets: t.UploadPackets, DownloadPackets: t.DownloadPackets}
}

// PolicyDocument is the wire form of the policy in force; NICQueue names the NIC
// queue model only where one is in force (policy none under a NIC cap).
func PolicyDocument(p shape.PolicyConfig) client.PolicyDocument {
	doc := client.PolicyDocument{Policy: p.Name, Strict: p.Strict,
		NICBitsPerSec: p.NICBitsPerSec, FixedBitsPerSec: p.FixedBitsPerSec}
	if p.Name == shape.PolicyNone && p.NICBitsPerSec > 0 {
		doc.NICQueue = p.NICQueue
	}
	return doc
}
