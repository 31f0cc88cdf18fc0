package netshape

import (
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
)

// Traffic counts bytes and packets in each direction, from the sandboxes' point of view:
// upload = out of a sandbox towards the bridge/remote, download = into it.
type Traffic struct {
	UploadBytes     uint64
	DownloadBytes   uint64
	UploadPackets   uint64
	DownloadPackets uint64
}

func (t Traffic) add(u Traffic) Traffic {
	return Traffic{
		UploadBytes: t.UploadBytes + u.UploadBytes, DownloadBytes: t.DownloadBytes + u.DownloadBytes,
		UploadPackets: t.UploadPackets + u.UploadPackets, DownloadPackets: t.DownloadPackets + u.DownloadPackets,
	}
}

// sandboxTraffic reads a sandbox's host-end veth counters: what the host end receives
// the sandbox uploaded, what it transmits the sandbox downloads.
func sandboxTraffic(s *netlink.LinkStatistics) Traffic {
	if s == nil {
		return Traffic{}
	}
	return Traffic{UploadBytes: s.RxBytes, DownloadBytes: s.TxBytes, UploadPackets: s.RxPackets, DownloadPackets: s.TxPackets}
}

// observe keeps the counters of m's veth, if it was read (nil: it was not). A link's
// counters only grow, so a lower value is a dump older than a read already kept. h.mu held.
func (m *member) observe(s *netlink.LinkStatistics) {
	if s == nil {
		return
	}
	t := sandboxTraffic(s)
	m.seen = Traffic{UploadBytes: max(m.seen.UploadBytes, t.UploadBytes), DownloadBytes: max(m.seen.DownloadBytes, t.DownloadBytes),
		UploadPackets: max(m.seen.UploadPackets, t.UploadPackets), DownloadPackets: max(m.seen.DownloadPackets, t.DownloadPackets)}
}

// uplinkTraffic reads the uplink host end's counters: it transmits towards the remote
// (upload) and receives from it (download).
func uplinkTraffic(s *netlink.LinkStatistics) Traffic {
	if s == nil {
		return Traffic{}
	}
	return Traffic{UploadBytes: s.TxBytes, DownloadBytes: s.RxBytes, UploadPackets: s.TxPackets, DownloadPackets: s.RxPackets}
}

// SandboxTraffic is one sandbox's counters in a Sample.
type SandboxTraffic struct {
	SandboxID string
	Function  string
	HostVeth  string
	Traffic
}

// Sample is a snapshot of the host's network counters.
type Sample struct {
	Time time.Time
	// Sandboxes by sandbox ID: every attached sandbox (counters since its Attach).
	Sandboxes map[string]SandboxTraffic
	// Uplink is the emulated NIC: all traffic between the bridge (sandboxes and the
	// host itself via the gateway) and the remote netns.
	Uplink Traffic
}

// Sample reads the counters of every attached sandbox's veth and of the uplink with one
// netlink link dump (cheap enough for every 100 ms).
func (h *Host) Sample() (Sample, error) {
	s, _, err := h.sample(false)
	return s, err
}

// sample does the link dump and, if perFunction, also totals per function including
// sandboxes already detached (monotonic, for Prometheus counters).
func (h *Host) sample(perFunction bool) (Sample, map[string]Traffic, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return Sample{}, nil, ErrClosed
	}
	h.inflight.Add(1) // Close must not close the netlink socket under the dump
	h.mu.Unlock()
	defer h.inflight.Done()
	links, err := h.dumpLinks()
	if err != nil {
		return Sample{}, nil, err
	}
	s := Sample{Time: time.Now(), Sandboxes: map[string]SandboxTraffic{}}
	byName := make(map[string]*netlink.LinkStatistics, len(links))
	for _, l := range links {
		byName[l.Attrs().Name] = l.Attrs().Statistics
	}
	s.Uplink = uplinkTraffic(byName[h.cfg.UplinkHostName()])
	var fn map[string]Traffic
	h.mu.Lock()
	defer h.mu.Unlock()
	if perFunction {
		fn = make(map[string]Traffic, len(h.retired))
		for f, t := range h.retired {
			fn[f] = t
		}
	}
	for id, m := range h.members {
		if m.ready {
			m.observe(byName[m.HostVeth])
			s.Sandboxes[id] = SandboxTraffic{SandboxID: id, Function: m.Function, HostVeth: m.HostVeth, Traffic: m.seen}
		}
		// Not ready: attaching (nothing yet), or detaching (Detach's last read stands).
		if perFunction && (m.ready || m.seen != (Traffic{})) {
			fn[m.Function] = fn[m.Function].add(m.seen)
		}
	}
	return s, fn, nil
}

// dumpLinks lists the host netns's links, retrying a dump that a concurrent link change
// interrupted.
func (h *Host) dumpLinks() ([]netlink.Link, error) {
	var links []netlink.Link
	var err error
	for range 3 {
		links, err = h.nl.LinkList() // ip -s link show
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("dump links for counters: %w", err)
	}
	return links, nil
}
