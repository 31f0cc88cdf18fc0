package faasbench

import (
	"strings"
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

// A workload's name is the spec author's text: a '|' in it does not break Table 2's rows
// (the tables use the report's one markdown writer, which escapes it).
func TestTablesEscapeWorkloadNames(t *testing.T) {
	calls := []Call{{Workload: "a|b", Status: StatusSuccess, Words: 10, ClientMs: 3}}
	tab := Table2(calls)
	if !strings.Contains(tab, `a\|b`) {
		t.Errorf("Table 2 does not escape the name:\n%s", tab)
	}
}
