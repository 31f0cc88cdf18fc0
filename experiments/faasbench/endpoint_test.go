package faasbench

import (
	"testing"

	"github.com/faaslab/faaslab/client"
)

// A spec without faaslab.endpoint leaves it empty, so the CLI's --endpoint or
// FAASLAB_ENDPOINT can still fill it; the run falls back to client.DefaultEndpoint, and a
// spec's own endpoint is kept.
func TestSpecLeavesEndpointToTheCaller(t *testing.T) {
	const wl = "workloads: [{name: a, kind: batch, target: sleep}]\n"
	s, err := ParseSpec([]byte("name: x\n" + wl))
	if err != nil {
		t.Fatal(err)
	}
	if s.Faaslab.Endpoint != "" {
		t.Errorf("unset endpoint parsed as %q, want it left empty", s.Faaslab.Endpoint)
	}
	if got := s.Faaslab.endpoint(); got != client.DefaultEndpoint {
		t.Errorf("run endpoint %q, want %q", got, client.DefaultEndpoint)
	}
	s, err = ParseSpec([]byte("name: x\nfaaslab: {endpoint: http://10.0.0.9:3001}\n" + wl))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Faaslab.endpoint(); got != "http://10.0.0.9:3001" {
		t.Errorf("run endpoint %q, want the spec's", got)
	}
}
