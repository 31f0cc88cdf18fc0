package shape

import (
	"strings"

	"github.com/faaslab/faaslab/internal/probe"
)

// Probe reports the traffic-control pieces this kernel has (probed in a throwaway
// namespace) and which policies can run on it.
func Probe() probe.Section {
	s := probe.Section{Title: "traffic control (probed in a throwaway namespace)"}
	f := DetectFeatures()
	s.Notes = strings.Split(strings.TrimRight(f.String(), "\n"), "\n")
	for _, p := range PolicyNames() {
		err := f.Check(PolicyConfig{Name: p, NICBitsPerSec: 1e9, FixedBitsPerSec: 1e8})
		c := probe.Check{Name: "policy " + p, OK: err == nil, Detail: "available"}
		if err != nil {
			c.Detail = err.Error()
		}
		s.Checks = append(s.Checks, c)
	}
	q, err := f.ResolveNICQueue(PolicyConfig{Name: PolicyNone, NICBitsPerSec: 1e9})
	c := probe.Check{Name: "nic_queue fair", OK: err == nil, Detail: "policy none shares the NIC per flow with " + q.NICQueue}
	if err != nil {
		c.Detail = err.Error()
	}
	s.Checks = append(s.Checks, c)
	return s
}
