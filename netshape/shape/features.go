package shape

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/procfs"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrMissingFeature is returned by Features.Check when the kernel lacks a
// qdisc, classifier or cgroup controller the policy needs.
var ErrMissingFeature = errors.New("kernel lacks a traffic-control feature")

// Kinds probed by DetectFeatures.
var (
	probeQdiscs      = []string{"htb", "tbf", "netem", "fq", "fq_codel", "prio", "sfq", "hfsc", "pfifo", "bfifo", "cake", "ingress", "clsact"}
	probeClassifiers = []string{"u32", "cgroup", "basic", "flower", "matchall", "fw", "bpf"}
	probeActions     = []string{"mirred", "gact", "police", "skbedit", "tunnel_key", "csum", "connmark", "vlan", "sample", "pedit"}
	probeLinks       = []string{"veth", "bridge", "ifb", "dummy"}
)

// NetPrio describes cgroup v1 net_prio support.
type NetPrio struct {
	Compiled   bool   // listed and enabled in /proc/cgroups
	MountPoint string // a cgroup v1 hierarchy carrying net_prio, "" if none
	// FaaslabMount: MountPoint is a mount some faaslab daemon made (source netPrioMountSource);
	// the last daemon to leave it empty unmounts it.
	FaaslabMount bool
	CgroupV2Only bool // unified hierarchy only: net_prio cannot be used
}

// Features lists what traffic control this kernel can do. A missing map key
// means "not probed"; false means probed and missing.
type Features struct {
	Qdiscs      map[string]bool
	Classifiers map[string]bool
	Actions     map[string]bool
	Links       map[string]bool
	NetPrio     NetPrio
	// Err is set when detection itself failed (e.g. no CAP_NET_ADMIN).
	Err error
	// Hints are notes from /proc/modules and the modules directory.
	Hints []string
}

var detectOnce = sync.OnceValue(detectFeatures) // kernel features do not change while we run

// DetectFeatures probes the kernel once per process by really creating each
// qdisc, classifier, action and link kind in a throwaway network namespace.
func DetectFeatures() Features { return detectOnce() }

// Check reports whether the kernel can run a policy, naming what is missing.
func (f Features) Check(p PolicyConfig) error {
	var needQ, needC []string
	switch p.name() {
	case PolicyNone:
		if p.NICBitsPerSec > 0 {
			needQ = []string{"htb"}
		}
	case PolicyNetPrio:
		needQ = []string{"htb"}
	default:
		needQ, needC = []string{"htb"}, []string{"u32"}
	}
	if len(needQ)+len(needC) == 0 {
		return nil
	}
	if f.Err != nil {
		return fmt.Errorf("policy %q: cannot detect kernel traffic-control features: %w", p.name(), f.Err)
	}
	var lacks []string
	for _, q := range needQ {
		if !f.Qdiscs[q] {
			lacks = append(lacks, "qdisc "+q)
		}
	}
	for _, c := range needC {
		if !f.Classifiers[c] {
			lacks = append(lacks, "classifier "+c)
		}
	}
	if p.name() == PolicyNetPrio {
		if err := f.NetPrio.usable(); err != nil {
			lacks = append(lacks, err.Error())
		}
	}
	if len(lacks) == 0 {
		_, err := f.ResolveNICQueue(p)
		return err
	}
	return fmt.Errorf("%w: policy %q needs %s; this kernel lacks: %s", ErrMissingFeature, p.name(), needsText(p.name(), needQ, needC), strings.Join(lacks, ", "))
}

func needsText(name string, q, c []string) string {
	var parts []string
	for _, x := range q {
		parts = append(parts, "qdisc "+x)
	}
	for _, x := range c {
		parts = append(parts, "classifier "+x)
	}
	if name == PolicyNetPrio {
		parts = append(parts, "the cgroup v1 net_prio controller")
	}
	return strings.Join(parts, " and ")
}

func (n NetPrio) usable() error {
	switch {
	case !n.Compiled:
		return errors.New("cgroup controller net_prio (not in /proc/cgroups)")
	case n.CgroupV2Only:
		return errors.New("cgroup v1 net_prio (this host has only cgroup v2, which has no net_prio)")
	}
	return nil
}

// String renders the features for `faaslab doctor`.
func (f Features) String() string {
	var b strings.Builder
	if f.Err != nil {
		fmt.Fprintf(&b, "detection failed: %v\n", f.Err)
	}
	for _, sec := range []struct {
		name string
		m    map[string]bool
	}{{"qdiscs", f.Qdiscs}, {"classifiers", f.Classifiers}, {"actions", f.Actions}, {"links", f.Links}} {
		var have, lack []string
		for _, k := range slices.Sorted(mapKeys(sec.m)) {
			if sec.m[k] {
				have = append(have, k)
			} else {
				lack = append(lack, k)
			}
		}
		fmt.Fprintf(&b, "%-12s have: %s; missing: %s\n", sec.name, joinOrNone(have), joinOrNone(lack))
	}
	np := "not compiled in"
	switch {
	case f.NetPrio.Compiled && f.NetPrio.CgroupV2Only:
		np = "compiled in, unusable (cgroup v2 only)"
	case f.NetPrio.Compiled && f.NetPrio.MountPoint != "":
		np = "available, mounted at " + f.NetPrio.MountPoint
	case f.NetPrio.Compiled:
		np = "available (cgroup v1), not mounted"
	}
	fmt.Fprintf(&b, "%-12s %s\n", "net_prio", np)
	for _, h := range f.Hints {
		fmt.Fprintf(&b, "hint: %s\n", h)
	}
	return b.String()
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func joinOrNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}

// detectFeatures does the probing.
func detectFeatures() Features {
	f := Features{NetPrio: detectNetPrio()}
	f.Hints = moduleHints()
	ns, err := newAnonNetNS()
	if err != nil {
		f.Err = err
		return f
	}
	defer ns.Close() // the netns and everything in it vanish with the last fd
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		f.Err = fmt.Errorf("open netlink in probe netns: %w", err)
		return f
	}
	defer h.Close()
	f.Links = probeLinkKinds(h)
	// A veth pair: dummy may be missing (it is on this project's kernels).
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "faaslabp0", TxQLen: defaultTxQueueLen}, PeerName: "faaslabp1"}
	if err := h.LinkAdd(veth); err != nil {
		f.Err = fmt.Errorf("create probe veth: %w", err)
		return f
	}
	link, err := h.LinkByName("faaslabp0")
	if err == nil {
		err = h.LinkSetUp(link)
	}
	if err != nil {
		f.Err = fmt.Errorf("bring up probe veth: %w", err)
		return f
	}
	f.Qdiscs = probeQdiscKinds(h, link)
	f.Classifiers, f.Actions = probeFilterKinds(h, link)
	return f
}

// newAnonNetNS creates an unnamed netns and returns a handle on it without
// leaving the calling thread inside it.
func newAnonNetNS() (netns.NsHandle, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return 0, fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	ns, err := netns.New() // switches this thread into the new netns
	if err != nil {
		if cur, gerr := netns.Get(); gerr == nil && cur.Equal(orig) {
			cur.Close()
			runtime.UnlockOSThread()
		}
		return 0, fmt.Errorf("create probe netns (needs root/CAP_SYS_ADMIN): %w", err)
	}
	if err := netns.Set(orig); err != nil {
		ns.Close()
		// Leave the thread locked: Go destroys it when this goroutine ends.
		return 0, fmt.Errorf("return from probe netns: %w", err)
	}
	runtime.UnlockOSThread()
	return ns, nil
}

// present interprets a probe error: the kernel answers ENOENT ("kind is
// unknown" / "failed to load module") only when the kind is missing; other
// errors (EINVAL for missing options) prove the kind exists.
func present(err error) bool { return !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EOPNOTSUPP) }

func probeLinkKinds(h *netlink.Handle) map[string]bool {
	out := map[string]bool{"veth": true} // proven by the probe itself below
	for _, kind := range probeLinks {
		if kind == "veth" {
			continue
		}
		l := &netlink.GenericLink{LinkAttrs: netlink.LinkAttrs{Name: "faaslabl" + kind}, LinkType: kind}
		err := h.LinkAdd(l) // `ip link add faaslablX type X`
		out[kind] = present(err)
		if err == nil {
			_ = h.LinkDel(l)
		}
	}
	return out
}

func probeQdiscKinds(h *netlink.Handle, link netlink.Link) map[string]bool {
	out := map[string]bool{}
	idx := link.Attrs().Index
	for _, kind := range probeQdiscs {
		var q netlink.Qdisc
		attrs := netlink.QdiscAttrs{LinkIndex: idx, Handle: MakeClassID(qdiscMajor, 0), Parent: netlink.HANDLE_ROOT}
		switch kind {
		case "htb": // `tc qdisc add dev P root handle 1: htb`
			q = netlink.NewHtb(attrs)
		case "tbf": // `tc qdisc add dev P root handle 1: tbf rate 1mbit burst 64k limit 64k`
			q = &netlink.Tbf{QdiscAttrs: attrs, Rate: 125000, Limit: 65536, Buffer: netlink.Xmittime(125000, 65536)}
		case "ingress", "clsact": // `tc qdisc add dev P ingress|clsact`
			attrs.Handle, attrs.Parent = netlink.MakeHandle(0xffff, 0), netlink.HANDLE_INGRESS
			q = &netlink.GenericQdisc{QdiscAttrs: attrs, QdiscType: kind}
		default: // `tc qdisc add dev P root handle 1: KIND` without options
			q = &netlink.GenericQdisc{QdiscAttrs: attrs, QdiscType: kind}
		}
		err := h.QdiscAdd(q)
		out[kind] = present(err)
		if err == nil {
			_ = h.QdiscDel(q)
		}
	}
	return out
}

// probeFilterKinds puts an HTB on the probe link and tries each classifier
// (one prio each: a prio holds one kind) and each action on a u32 filter.
func probeFilterKinds(h *netlink.Handle, link netlink.Link) (map[string]bool, map[string]bool) {
	cls, acts := map[string]bool{}, map[string]bool{}
	idx := link.Attrs().Index
	root := MakeClassID(qdiscMajor, 0)
	if err := h.QdiscAdd(netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: root, Parent: netlink.HANDLE_ROOT})); err != nil {
		return cls, acts
	}
	prio := uint16(1)
	next := func() netlink.FilterAttrs {
		prio++
		return netlink.FilterAttrs{LinkIndex: idx, Parent: root, Priority: prio, Protocol: unix.ETH_P_IP}
	}
	for _, kind := range probeClassifiers {
		var f netlink.Filter
		if kind == "u32" { // `tc filter add dev P parent 1: prio N protocol ip u32 match u32 0 0 flowid 1:1`
			f = &netlink.U32{FilterAttrs: next(), ClassId: MakeClassID(qdiscMajor, 1)}
		} else { // `tc filter add dev P parent 1: prio N protocol ip KIND`
			f = &netlink.GenericFilter{FilterAttrs: next(), FilterType: kind}
		}
		cls[kind] = present(h.FilterAdd(f))
	}
	if !cls["u32"] {
		return cls, acts
	}
	for _, kind := range probeActions {
		a := probeAction(kind, idx)
		if a == nil {
			continue
		}
		// `tc filter add dev P parent 1: prio N protocol ip u32 match u32 0 0 action KIND …`
		f := &netlink.U32{FilterAttrs: next(), ClassId: MakeClassID(qdiscMajor, 1), Actions: []netlink.Action{a}}
		acts[kind] = present(h.FilterAdd(f))
	}
	return cls, acts
}

func probeAction(kind string, ifindex int) netlink.Action {
	switch kind {
	case "mirred":
		return netlink.NewMirredAction(ifindex)
	case "gact":
		a := &netlink.GenericAction{}
		a.Action = netlink.TC_ACT_OK
		return a
	case "police":
		p := netlink.NewPoliceAction()
		p.Rate, p.Burst = 125000, 65536
		return p
	case "skbedit":
		a := netlink.NewSkbEditAction()
		prio := uint32(1)
		a.Priority = &prio
		return a
	case "tunnel_key":
		return netlink.NewTunnelKeyAction()
	case "csum":
		return netlink.NewCsumAction()
	case "connmark":
		return netlink.NewConnmarkAction()
	case "vlan":
		return netlink.NewVlanAction()
	case "sample":
		a := netlink.NewSampleAction()
		a.Group, a.Rate = 1, 1
		return a
	case "pedit":
		return netlink.NewPeditAction()
	}
	return nil
}

// detectNetPrio reads /proc/cgroups and /proc/self/mountinfo (prometheus/procfs parses both).
func detectNetPrio() NetPrio {
	var n NetPrio
	if fs, err := procfs.NewDefaultFS(); err == nil {
		if sums, err := fs.CgroupSummarys(); err == nil {
			for _, c := range sums {
				if c.SubsysName == "net_prio" && c.Enabled == 1 {
					n.Compiled = true
				}
			}
		}
	}
	v1 := false
	if mounts, err := procfs.GetMounts(); err == nil {
		for _, m := range mounts {
			if m.FSType != "cgroup" {
				continue
			}
			v1 = true
			if _, ok := m.SuperOptions["net_prio"]; ok && n.MountPoint == "" {
				n.MountPoint, n.FaaslabMount = m.MountPoint, m.Source == netPrioMountSource
			}
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil && !v1 {
		n.CgroupV2Only = true
	}
	return n
}

// moduleHints notes whether modules can be loaded at all and which sched
// modules exist on disk, to explain a missing kind.
func moduleHints() []string {
	var hints []string
	if _, err := os.Stat("/proc/modules"); err != nil {
		hints = append(hints, "no /proc/modules: kernel built without loadable modules; only built-in qdiscs/classifiers exist")
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		rel := unix.ByteSliceToString(uts.Release[:])
		dir := filepath.Join("/lib/modules", rel, "kernel/net/sched")
		if ents, err := os.ReadDir(dir); err == nil {
			hints = append(hints, fmt.Sprintf("%d traffic-control modules in %s", len(ents), dir))
		} else {
			hints = append(hints, fmt.Sprintf("no module directory %s", dir))
		}
	}
	return hints
}
