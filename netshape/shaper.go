package netshape

import "net/netip"

// Member is one attached sandbox as a Shaper sees it.
type Member struct {
	SandboxID string
	Function  string
	MemoryMB  int
	// IP is the sandbox's address (what u32 filters on the uplink classify by).
	IP netip.Addr
	// HostVeth is the host end of the sandbox's veth (bridge port): its egress is the
	// sandbox's download, its ingress the sandbox's upload.
	HostVeth string
}

// Shaper applies a bandwidth policy. The Host calls Update with the full list of
// attached members (sorted by SandboxID) after every Attach and Detach, one call at a
// time, and Close once from Host.Close before it removes the links. Update should leave
// the classes of members that stay untouched. The uplink's devices are given by
// Host.UplinkLinks: upload = egress of the host end, download = egress of the remote end.
type Shaper interface {
	Update(members []Member) error
	Close() error
}
