package main

// The daemon's own API beside the Lambda API, for the experiment runner and researchers:
//
//	GET /faaslab/v1/network/sample   per-sandbox and uplink counters (cheap: sample every 100 ms)
//	GET /faaslab/v1/network/policy   the shaping policy in force
//	PUT /faaslab/v1/network/policy   switch policy on a running daemon ({"policy":"equal","nic":"1gbit",...})

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/sandbox"
)

func registerHostAPI(mux *http.ServeMux, d *daemon) {
	mux.HandleFunc("GET /faaslab/v1/network/sample", makeSampleHandler(d.host, d.shaper))
	mux.HandleFunc("GET /faaslab/v1/network/policy", makeGetPolicyHandler(d.shaper))
	mux.HandleFunc("PUT /faaslab/v1/network/policy", makeSetPolicyHandler(d.shaper, d.cfg, d.profile()))
}

func (d *daemon) profile() sandbox.Profile {
	p, _ := sandbox.LookupProfile(d.cfg.Profile)
	return p
}

type sampleResponse struct {
	Time      time.Time                          `json:"time"`
	Sandboxes map[string]netshape.SandboxTraffic `json:"sandboxes"`
	Uplink    netshape.Traffic                   `json:"uplink"`
	Classes   []shape.ClassStat                  `json:"classes,omitempty"`
}

func makeSampleHandler(host *netshape.Host, shaper *lazyShaper) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := host.Sample()
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		resp := sampleResponse{Time: s.Time, Sandboxes: s.Sandboxes, Uplink: s.Uplink}
		if sh := shaper.get(); sh != nil {
			resp.Classes, _ = sh.ClassStats()
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// policyDocument is the wire form of a shaping policy.
type policyDocument struct {
	Policy    string `json:"policy"`
	NIC       string `json:"nic,omitempty"`        // e.g. 560mbit, unlimited ("" = profile's)
	FixedRate string `json:"fixed_rate,omitempty"` // policy fixed
	Strict    bool   `json:"strict,omitempty"`
	// Read back: the numbers in force.
	NICBitsPerSec   int64 `json:"nic_bits_per_sec"`
	FixedBitsPerSec int64 `json:"fixed_bits_per_sec,omitempty"`
}

func makeGetPolicyHandler(shaper *lazyShaper) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sh := shaper.get()
		if sh == nil {
			writeJSONError(w, http.StatusServiceUnavailable, errNoShaper)
			return
		}
		p := sh.Policy()
		writeJSON(w, http.StatusOK, policyDocument{Policy: p.Name, Strict: p.Strict,
			NICBitsPerSec: p.NICBitsPerSec, FixedBitsPerSec: p.FixedBitsPerSec})
	}
}

func makeSetPolicyHandler(shaper *lazyShaper, cfg daemonConfig, profile sandbox.Profile) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sh := shaper.get()
		if sh == nil {
			writeJSONError(w, http.StatusServiceUnavailable, errNoShaper)
			return
		}
		var doc policyDocument
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&doc); err != nil {
			writeJSONError(w, http.StatusBadRequest, err)
			return
		}
		p, err := policyConfig(networkConfig{Policy: doc.Policy, NIC: doc.NIC, FixedRate: doc.FixedRate, Strict: doc.Strict}, profile)
		if err == nil {
			err = checkNetworkMode(cfg, p) // mode shared can only run netprio
		}
		if err == nil {
			err = shape.DetectFeatures().Check(p)
		}
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err)
			return
		}
		if err := sh.SetPolicy(p); err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, policyDocument{Policy: p.Name, Strict: p.Strict,
			NICBitsPerSec: p.NICBitsPerSec, FixedBitsPerSec: p.FixedBitsPerSec})
	}
}

type constError string

func (e constError) Error() string { return string(e) }

const errNoShaper = constError("shaping is not running on this daemon")

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"message": err.Error()})
}
