package shape

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// IPv4 header offsets matched by the u32 filters.
const (
	ipv4SrcOffset = 12
	ipv4DstOffset = 16
	// defaultTxQueueLen replaces a txqueuelen of 0: HTB leaves get a pfifo
	// whose limit is the device's txqueuelen, and a limit of 0/1 packet
	// collapses TCP.
	defaultTxQueueLen = 1000
)

// device is one shaped link (the egress side of one direction).
type device struct {
	dir    Direction
	name   string
	nsPath string
	h      *netlink.Handle
	link   netlink.Link
}

// openDevice opens a netlink handle in nsPath and looks the link up.
func openDevice(dir Direction, name, nsPath string) (*device, error) {
	h, err := handleAt(nsPath)
	if err != nil {
		return nil, err
	}
	link, err := h.LinkByName(name)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("find %s device %q (netns %q): %w", dir, name, nsPath, err)
	}
	d := &device{dir: dir, name: name, nsPath: nsPath, h: h, link: link}
	if err := d.ensureTxQueueLen(); err != nil {
		h.Close()
		return nil, err
	}
	return d, nil
}

// ensureTxQueueLen never lets HTB sit on a txqueuelen-0 device (an IFB or
// some veths default to 0). Equivalent: `ip link set dev D txqueuelen 1000`.
func (d *device) ensureTxQueueLen() error {
	if d.link.Attrs().TxQLen > 0 {
		return nil
	}
	if err := d.h.LinkSetTxQLen(d.link, defaultTxQueueLen); err != nil {
		return fmt.Errorf("set txqueuelen of %s to %d: %w", d.name, defaultTxQueueLen, err)
	}
	d.link.Attrs().TxQLen = defaultTxQueueLen
	return nil
}

func (d *device) index() int { return d.link.Attrs().Index }

// addQdisc: `tc qdisc add dev D root handle 1: htb default N r2q 10`.
func (d *device) addQdisc(q Qdisc) error {
	htb := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: d.index(), Handle: q.Handle, Parent: netlink.HANDLE_ROOT})
	htb.Defcls = q.DefaultMinor
	if err := d.h.QdiscAdd(htb); err != nil {
		return fmt.Errorf("add htb root qdisc on %s: %w", d.name, err)
	}
	return nil
}

// delRootQdisc: `tc qdisc del dev D root` when the root is our HTB. The
// kernel then restores the device default (noqueue on a veth), and every
// class and filter under it disappears with it.
func (d *device) delRootQdisc() error {
	root, err := d.rootHTB()
	if err != nil || root == nil {
		return err
	}
	if err := d.h.QdiscDel(root); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("delete root qdisc on %s: %w", d.name, err)
	}
	return nil
}

// rootHTB returns our root HTB qdisc (handle 1:), or nil: `tc qdisc show dev D`.
func (d *device) rootHTB() (*netlink.Htb, error) {
	qs, err := d.h.QdiscList(d.link)
	if err != nil {
		return nil, fmt.Errorf("list qdiscs on %s: %w", d.name, err)
	}
	for _, q := range qs {
		if htb, ok := q.(*netlink.Htb); ok && q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == MakeClassID(qdiscMajor, 0) {
			return htb, nil
		}
	}
	return nil, nil
}

// htbClass converts a planned class: the netlink.HtbClassAttrs below is
// `htb rate R ceil C burst B cburst CB quantum Q prio P` (rates in bit/s here;
// NewHtbClass turns them into bytes/s and the bursts into psched ticks).
func (d *device) htbClass(c Class) *netlink.HtbClass {
	return netlink.NewHtbClass(
		netlink.ClassAttrs{LinkIndex: d.index(), Handle: c.ClassID, Parent: c.ParentID},
		netlink.HtbClassAttrs{
			Rate: c.RateBitsPerSec, Ceil: c.CeilBitsPerSec,
			Buffer: c.BurstBytes, Cbuffer: c.CburstBytes,
			Quantum: c.QuantumBytes, Prio: c.Prio,
		})
}

// addClass: `tc class add dev D parent P classid C htb rate … ceil … burst … cburst … quantum … prio …`.
func (d *device) addClass(c Class) error {
	if err := d.h.ClassAdd(d.htbClass(c)); err != nil {
		return fmt.Errorf("add class %s on %s: %w", FormatHandle(c.ClassID), d.name, err)
	}
	return nil
}

// changeClass: `tc class change dev D parent P classid C htb rate …` (in place:
// the class keeps its queue, counters and its flows).
func (d *device) changeClass(c Class) error {
	if err := d.h.ClassChange(d.htbClass(c)); err != nil {
		return fmt.Errorf("change class %s on %s: %w", FormatHandle(c.ClassID), d.name, err)
	}
	return nil
}

// delClass: `tc class del dev D classid C`.
func (d *device) delClass(c Class) error {
	err := d.h.ClassDel(&netlink.HtbClass{ClassAttrs: netlink.ClassAttrs{LinkIndex: d.index(), Handle: c.ClassID, Parent: c.ParentID}})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete class %s on %s: %w", FormatHandle(c.ClassID), d.name, err)
	}
	return nil
}

// u32Filter: `tc filter add dev D parent 1: protocol ip prio 10 handle 800::N
// u32 match ip src|dst A/32 flowid C` (one key: 32-bit mask at IP offset 12 or 16).
func (d *device) u32Filter(f Filter) *netlink.U32 {
	ip4 := f.IP.As4()
	off := int32(ipv4DstOffset)
	if f.MatchSrc {
		off = ipv4SrcOffset
	}
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: d.index(), Parent: MakeClassID(qdiscMajor, 0), Handle: f.Handle,
			Priority: f.Priority, Protocol: unix.ETH_P_IP,
		},
		ClassId: f.ClassID,
		Sel: &netlink.TcU32Sel{
			Flags: nl.TC_U32_TERMINAL,
			Keys:  []netlink.TcU32Key{{Mask: 0xffffffff, Val: binary.BigEndian.Uint32(ip4[:]), Off: off}},
		},
	}
}

func (d *device) addFilter(f Filter) error {
	if err := d.h.FilterAdd(d.u32Filter(f)); err != nil {
		return fmt.Errorf("add u32 filter %x (%v → %s) on %s: %w", f.Handle, f.IP, FormatHandle(f.ClassID), d.name, err)
	}
	return nil
}

// delFilter: `tc filter del dev D parent 1: protocol ip prio 10 handle 800::N u32`.
func (d *device) delFilter(f Filter) error {
	err := d.h.FilterDel(&netlink.U32{FilterAttrs: netlink.FilterAttrs{
		LinkIndex: d.index(), Parent: MakeClassID(qdiscMajor, 0), Handle: f.Handle,
		Priority: f.Priority, Protocol: unix.ETH_P_IP,
	}})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete u32 filter %x on %s: %w", f.Handle, d.name, err)
	}
	return nil
}

// listClasses: `tc -s class show dev D` (HTB classes only).
func (d *device) listClasses() ([]*netlink.HtbClass, error) {
	cs, err := d.h.ClassList(d.link, 0)
	if err != nil {
		return nil, fmt.Errorf("list classes on %s: %w", d.name, err)
	}
	var out []*netlink.HtbClass
	for _, c := range cs {
		if htb, ok := c.(*netlink.HtbClass); ok {
			out = append(out, htb)
		}
	}
	return out, nil
}

// readBack dumps the device's root HTB, classes and u32 filters into a
// DirectionPlan (kernel-visible fields only).
func (d *device) readBack() (DirectionPlan, error) {
	dp := DirectionPlan{Direction: d.dir}
	root, err := d.rootHTB()
	if err != nil || root == nil {
		return dp, err
	}
	dp.Qdisc = &Qdisc{Handle: root.Handle, DefaultMinor: root.Defcls}
	classes, err := d.listClasses()
	if err != nil {
		return dp, err
	}
	for _, c := range classes {
		pc := fromHTBClass(c)
		if pc.ParentID == netlink.HANDLE_ROOT { // HTB reports top-level classes as "root"
			pc.ParentID = dp.Qdisc.Handle
		}
		dp.Classes = append(dp.Classes, pc)
	}
	// `tc filter show dev D parent 1:`
	filters, err := d.h.FilterList(d.link, dp.Qdisc.Handle)
	if err != nil {
		return dp, fmt.Errorf("list filters on %s: %w", d.name, err)
	}
	for _, f := range filters {
		if pf, ok := fromU32(f); ok {
			dp.Filters = append(dp.Filters, pf)
		} else if fh, ok := fromBpf(f); ok {
			dp.FlowHash = fh
		}
	}
	if dp.Leaf, err = d.readLeaf(); err != nil {
		return dp, err
	}
	sortPlan(&dp)
	return dp, nil
}

// fromHTBClass converts kernel units back: bytes/s → bit/s, ticks → bytes.
func fromHTBClass(c *netlink.HtbClass) Class {
	return Class{
		ClassID: c.Handle, ParentID: c.Parent,
		RateBitsPerSec: c.Rate * 8, CeilBitsPerSec: c.Ceil * 8,
		BurstBytes:   netlink.Xmitsize(c.Rate, c.Buffer),
		CburstBytes:  netlink.Xmitsize(c.Ceil, c.Cbuffer),
		QuantumBytes: c.Quantum, Prio: c.Prio,
	}
}

// fromU32 recognises our single-key IPv4 address filters; the u32 hash
// table entry (800:, no selector) and foreign filters are skipped.
func fromU32(f netlink.Filter) (Filter, bool) {
	u, ok := f.(*netlink.U32)
	if !ok || u.Sel == nil || len(u.Sel.Keys) != 1 || u.ClassId == 0 {
		return Filter{}, false
	}
	k := u.Sel.Keys[0]
	if k.Mask != 0xffffffff || (k.Off != ipv4SrcOffset && k.Off != ipv4DstOffset) {
		return Filter{}, false
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], k.Val)
	return Filter{
		Handle: u.Handle, Priority: u.Priority, MatchSrc: k.Off == ipv4SrcOffset,
		IP: netip.AddrFrom4(b), ClassID: u.ClassId,
	}, true
}

// annotate copies Kind/SandboxID/Function from the plan we applied onto a
// read-back plan (the kernel knows only numbers).
func annotate(got *DirectionPlan, known DirectionPlan) {
	byID := map[uint32]Class{}
	for _, c := range known.Classes {
		byID[c.ClassID] = c
	}
	for i, c := range got.Classes {
		if k, ok := byID[c.ClassID]; ok {
			got.Classes[i].Kind, got.Classes[i].SandboxID, got.Classes[i].Function = k.Kind, k.SandboxID, k.Function
		}
	}
	for i, f := range got.Filters {
		if k, ok := byID[f.ClassID]; ok {
			got.Filters[i].SandboxID = k.SandboxID
		}
	}
	slices.SortFunc(got.Filters, func(a, b Filter) int { return int(a.Handle) - int(b.Handle) })
}
