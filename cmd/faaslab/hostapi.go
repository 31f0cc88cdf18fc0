package main

// The daemon's own API beside the Lambda API, for the experiment runner and researchers:
//
//	GET /faaslab/v1/network/sample   per-sandbox and uplink counters (cheap: sample every 100 ms)
//	GET /faaslab/v1/network/policy   the shaping policy in force
//	PUT /faaslab/v1/network/policy   switch policy on a running daemon ({"policy":"equal","nic":"1gbit",...})

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/faaslab/faaslab/client"
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

func makeSampleHandler(host *netshape.Host, shaper *lazyShaper) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := host.Sample()
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err)
			return
		}
		var classes []shape.ClassStat
		if sh := shaper.get(); sh != nil {
			if classes, err = sh.ClassStats(); err != nil {
				writeJSONError(w, http.StatusInternalServerError, fmt.Errorf("read shaping classes: %w", err))
				return
			}
		}
		writeJSON(w, http.StatusOK, sampleDocument(s, classes))
	}
}

// sampleDocument converts the netshape and shape counters to the wire form.
func sampleDocument(s netshape.Sample, classes []shape.ClassStat) client.NetworkSample {
	doc := client.NetworkSample{Time: s.Time, Uplink: trafficDocument(s.Uplink),
		Sandboxes: make(map[string]client.SandboxTraffic, len(s.Sandboxes))}
	for id, t := range s.Sandboxes {
		doc.Sandboxes[id] = client.SandboxTraffic{SandboxID: t.SandboxID, Function: t.Function,
			HostVeth: t.HostVeth, Traffic: trafficDocument(t.Traffic)}
	}
	for _, c := range classes {
		doc.Classes = append(doc.Classes, client.ClassStat{
			Direction: string(c.Direction), ClassID: fmt.Sprintf("%x:%x", c.ClassID>>16, c.ClassID&0xffff),
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

func policyDocument(p shape.PolicyConfig) client.PolicyDocument {
	return client.PolicyDocument{Policy: p.Name, Strict: p.Strict,
		NICBitsPerSec: p.NICBitsPerSec, FixedBitsPerSec: p.FixedBitsPerSec}
}

func makeGetPolicyHandler(shaper *lazyShaper) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sh := shaper.get()
		if sh == nil {
			writeJSONError(w, http.StatusServiceUnavailable, errNoShaper)
			return
		}
		writeJSON(w, http.StatusOK, policyDocument(sh.Policy()))
	}
}

func makeSetPolicyHandler(shaper *lazyShaper, cfg daemonConfig, profile sandbox.Profile) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sh := shaper.get()
		if sh == nil {
			writeJSONError(w, http.StatusServiceUnavailable, errNoShaper)
			return
		}
		var doc client.PolicyDocument
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
		writeJSON(w, http.StatusOK, policyDocument(p))
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
