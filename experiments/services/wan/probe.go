package wan

import (
	"github.com/faaslab/faaslab/internal/probe"
	"github.com/faaslab/faaslab/netshape/shape"
)

// Probe says which implementation of services.wan a daemon on this host would use.
func Probe() probe.Section {
	netem := "missing on this kernel"
	if shape.DetectFeatures().Qdiscs["netem"] {
		netem = "available, not used"
	}
	return probe.Section{Title: "WAN model to the object store (services.wan, --wan-rtt, --wan-rate)", Checks: []probe.Check{
		{Name: "impl " + ImplListener, OK: true, Detail: "in force when services.wan is set: the embedded store's listener delays each turn by RTT/2 and paces each connection (pure Go, any kernel)"},
		{Name: "qdisc netem", OK: true, Detail: netem + " (the model does not need it)"},
	}}
}
