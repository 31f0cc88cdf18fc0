package shape

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
)

// Sizing constants. The burst and quantum floors come from measurements on
// kernel 6.18 (docs/nic-model.md, kernel facts): smaller bursts collapse TCP at high
// rates and the default r2q-derived quanta make excess sharing nearly equal.
const (
	// minBurstBytes is the burst/cburst floor (64 KiB, one max GSO packet).
	minBurstBytes = 64 << 10
	// burstPerSecDivisor makes burst ≥ rate × 1 ms.
	burstPerSecDivisor = 1000
	// minQuantumBytes is the quantum of a weight-1 class; it must cover a
	// whole GSO packet or DRR rounds degenerate.
	minQuantumBytes = 64 << 10
	// maxQuantumBytes bounds the quantum (HTB accepts any u32 when it is set
	// explicitly, but a huge quantum lets one class send megabytes per DRR
	// round). 256 × the floor covers the 3008/128 MB memory ratio with room.
	maxQuantumBytes = 16 << 20
	// maxReserveBitsPerSec caps the guaranteed rate of the catch-all class.
	maxReserveBitsPerSec = 1_000_000
	// priorityGuaranteeDivisor: under "priority" each member is guaranteed
	// 1/10 of an equal share so low priorities never starve; the rest is
	// excess that HTB hands out by prio.
	priorityGuaranteeDivisor = 10
)

// Handle layout on each shaped device. Member minors are limited to 12 bits
// so the u32 filter of a member can carry the same number as its node id
// (handle 800::minor), which makes filters addressable for deletion without
// reading them back.
const (
	qdiscMajor       = 1
	rootMinor        = 1
	defaultMinor     = 2
	firstMemberMinor = 0x10
	lastMemberMinor  = 0xffe
	// FilterPriority is the tc "prio"/"pref" of every member filter.
	FilterPriority = 10
	u32HashTable   = 0x800
)

// Direction of traffic relative to the sandboxes.
type Direction string

// Directions. Upload is shaped on the host end of the uplink (egress towards
// the remote), download on the remote end (egress towards the sandboxes).
const (
	Upload   Direction = "upload"
	Download Direction = "download"
)

// ClassKind tells what a class stands for.
type ClassKind string

// Class kinds.
const (
	KindRoot    ClassKind = "root"    // the NIC cap
	KindDefault ClassKind = "default" // unclassified traffic (ARP, unknown IPs)
	KindMember  ClassKind = "member"  // one sandbox
	// KindFlowBucket is one hash bucket of the flow-hash NIC queue model.
	KindFlowBucket ClassKind = "flow_bucket"
)

// Class is one HTB class: `tc class add dev D parent P classid C htb rate R
// ceil C burst B cburst CB quantum Q prio P`.
type Class struct {
	ClassID   uint32 // major<<16 | minor
	ParentID  uint32
	Kind      ClassKind
	SandboxID string // member classes only
	Function  string // member classes only

	RateBitsPerSec uint64
	CeilBitsPerSec uint64
	BurstBytes     uint32
	CburstBytes    uint32
	QuantumBytes   uint32
	Prio           uint32
}

// Filter is one u32 filter sending a sandbox's packets to its class:
// `tc filter add dev D parent 1: protocol ip prio 10 handle 800::N u32
// match ip src|dst IP/32 flowid C`.
type Filter struct {
	Handle    uint32
	Priority  uint16
	MatchSrc  bool // true: match source IP (upload); false: destination (download)
	IP        netip.Addr
	ClassID   uint32
	SandboxID string
}

// Qdisc is the root HTB qdisc: `tc qdisc add dev D root handle 1: htb default N`.
type Qdisc struct {
	Handle       uint32
	DefaultMinor uint32 // 0: unclassified traffic bypasses shaping (HTB direct queue)
}

// DirectionPlan is what one device gets. Qdisc == nil means no shaping there.
type DirectionPlan struct {
	Direction Direction
	Qdisc     *Qdisc
	Classes   []Class  // parents before children, then by ClassID
	Filters   []Filter // by Handle
	// Leaf is the fq_codel/sfq qdisc under the catch-all class (NIC queue
	// models fq_codel and sfq), FlowHash the bucket classifier (flowhash).
	Leaf     *LeafQdisc
	FlowHash *FlowHashFilter
}

// Plan is the full shaping plan for both directions.
type Plan struct {
	Policy   PolicyConfig
	Upload   DirectionPlan
	Download DirectionPlan
	// SkbPriority maps sandbox id → skb priority (= HTB classid on the upload
	// device) to write into that sandbox's net_prio.ifpriomap. netprio only.
	SkbPriority map[string]uint32
}

// MakeClassID builds a tc handle from major:minor.
func MakeClassID(major, minor uint16) uint32 { return uint32(major)<<16 | uint32(minor) }

// FormatHandle renders a tc handle the way tc prints it ("1:10", hex minor).
func FormatHandle(h uint32) string { return fmt.Sprintf("%x:%x", h>>16, h&0xffff) }

// Build computes the plan for a policy and the sandboxes sharing the NIC.
// It is deterministic and independent of the order of members.
func Build(policy PolicyConfig, members []Member) (Plan, error) {
	return Rebuild(Plan{}, policy, members)
}

// Rebuild is Build that keeps the class ids members already had in prev, so
// re-applying after membership changes touches only what really changed.
func Rebuild(prev Plan, policy PolicyConfig, members []Member) (Plan, error) {
	if err := policy.Validate(); err != nil {
		return Plan{}, err
	}
	policy.Name = policy.name()
	if policy.Name == PolicyNone && policy.NICBitsPerSec > 0 {
		policy.NICQueue = policy.nicQueue()
	}
	if err := validateMembers(policy, members); err != nil {
		return Plan{}, err
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Member) int { return cmp.Compare(a.SandboxID, b.SandboxID) })

	minors, err := assignMinors(sorted, prev.memberMinors())
	if err != nil {
		return Plan{}, err
	}
	shares, defaultRate, err := computeShares(policy, sorted)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Policy: policy}
	plan.Upload = buildDirection(Upload, policy, sorted, minors, shares, defaultRate)
	plan.Download = buildDirection(Download, policy, sorted, minors, shares, defaultRate)
	if policy.Name == PolicyNetPrio {
		plan.SkbPriority = make(map[string]uint32, len(sorted))
		for _, m := range sorted {
			plan.SkbPriority[m.SandboxID] = MakeClassID(qdiscMajor, minors[m.SandboxID])
		}
	}
	return plan, nil
}

// memberMinors returns sandbox id → class minor of a previous plan.
func (p Plan) memberMinors() map[string]uint16 {
	out := map[string]uint16{}
	for _, dp := range []DirectionPlan{p.Upload, p.Download} {
		for _, c := range dp.Classes {
			if c.Kind == KindMember {
				out[c.SandboxID] = uint16(c.ClassID & 0xffff)
			}
		}
	}
	return out
}

// assignMinors gives every member a class minor: its previous one when it had
// one, else the first free slot probing from a hash of its sandbox id. Members
// must be sorted by id so the result does not depend on input order.
func assignMinors(sorted []Member, sticky map[string]uint16) (map[string]uint16, error) {
	const span = lastMemberMinor - firstMemberMinor + 1
	if len(sorted) > span {
		return nil, fmt.Errorf("%w: %d sandboxes exceed the %d classes one device can hold", ErrInvalidMember, len(sorted), span)
	}
	out := make(map[string]uint16, len(sorted))
	used := make(map[uint16]bool, len(sorted))
	for _, m := range sorted {
		if mn, ok := sticky[m.SandboxID]; ok && mn >= firstMemberMinor && mn <= lastMemberMinor && !used[mn] {
			out[m.SandboxID], used[mn] = mn, true
		}
	}
	for _, m := range sorted {
		if _, ok := out[m.SandboxID]; ok {
			continue
		}
		h := fnv.New32a()
		h.Write([]byte(m.SandboxID))
		slot := h.Sum32() % span
		for used[uint16(firstMemberMinor+slot)] {
			slot = (slot + 1) % span
		}
		mn := uint16(firstMemberMinor + slot)
		out[m.SandboxID], used[mn] = mn, true
	}
	return out, nil
}

// share is the rate set of one member class.
type share struct {
	rate, ceil uint64
	prio       uint32
	weight     int64
}

// computeShares applies the policy's sizing rules to the sorted members. It
// returns the per-member shares and the rate of the catch-all class.
func computeShares(p PolicyConfig, ms []Member) ([]share, uint64, error) {
	capBits := uint64(p.NICBitsPerSec)
	reserve := min(max(capBits/1000, MinRateBitsPerSec), maxReserveBitsPerSec)
	shareable := uint64(0)
	if capBits > reserve {
		shareable = capBits - reserve
	}
	n := uint64(len(ms))
	out := make([]share, len(ms))
	if n == 0 {
		return out, reserve, nil
	}
	if capBits > 0 && shareable/n < MinRateBitsPerSec {
		return nil, 0, fmt.Errorf("%w: NIC capacity %d bit/s is too small for %d sandboxes (each needs ≥ %d bit/s)", ErrInvalidPolicy, capBits, n, MinRateBitsPerSec)
	}
	fixed := uint64(p.FixedBitsPerSec)
	sumTo := false // whether member rates + default must add up to the cap
	switch p.Name {
	case PolicyFixed:
		fillFixed(out, fixed, capBits, shareable)
	case PolicyEqual:
		for i := range out {
			out[i] = share{rate: shareable / n, ceil: capBits, weight: 1}
		}
		sumTo = true
	case PolicyProportional:
		fillProportional(out, ms, capBits, shareable)
		sumTo = true
	case PolicyPriority:
		g := max(shareable/(n*priorityGuaranteeDivisor), MinRateBitsPerSec)
		for i, m := range ms {
			out[i] = share{rate: g, ceil: capBits, prio: uint32(m.Priority), weight: 1}
		}
	case PolicyNetPrio:
		if fixed > 0 {
			fillFixed(out, fixed, capBits, shareable)
		} else {
			fillProportional(out, ms, capBits, shareable)
			sumTo = true
		}
	}
	if p.Strict {
		for i := range out {
			out[i].ceil = out[i].rate
		}
	}
	defaultRate := reserve
	if sumTo {
		var sum uint64
		for _, s := range out {
			sum += s.rate
		}
		if sum+MinRateBitsPerSec <= capBits {
			defaultRate = capBits - sum
		}
	}
	return out, defaultRate, nil
}

// fillFixed gives everyone the fixed rate, or an equal share of the NIC when
// the fixed rates would oversubscribe it: an HTB leaf below its own rate never
// asks its parent, so Σ rates > cap would break the NIC cap.
func fillFixed(out []share, fixed, capBits, shareable uint64) {
	rate, ceil := fixed, fixed
	if capBits > 0 {
		rate = min(fixed, shareable/uint64(len(out)))
		ceil = min(fixed, capBits)
	}
	for i := range out {
		out[i] = share{rate: rate, ceil: ceil, weight: 1}
	}
}

// fillProportional splits shareable ∝ memory; ceil = cap (work-conserving).
func fillProportional(out []share, ms []Member, capBits, shareable uint64) {
	var total uint64
	for _, m := range ms {
		total += uint64(m.MemoryMB)
	}
	for i, m := range ms {
		// 128-bit-safe enough: shareable < 2^47 (100 Tbit/s) × memory < 2^17.
		r := max(shareable*uint64(m.MemoryMB)/total, MinRateBitsPerSec)
		out[i] = share{rate: r, ceil: capBits, weight: int64(m.MemoryMB)}
	}
}

// BurstBytes is the burst for a rate: max(64 KiB, rate × 1 ms).
func BurstBytes(rateBitsPerSec uint64) uint32 {
	b := rateBitsPerSec / 8 / burstPerSecDivisor
	return uint32(min(max(b, minBurstBytes), 1<<31))
}

// QuantumBytes is the DRR quantum for a weight relative to the smallest
// weight present: 64 KiB × weight/minWeight, clamped to [64 KiB, 16 MiB].
func QuantumBytes(weight, minWeight int64) uint32 {
	if minWeight <= 0 || weight <= 0 {
		return minQuantumBytes
	}
	q := int64(minQuantumBytes) * weight / minWeight
	return uint32(min(max(q, minQuantumBytes), maxQuantumBytes))
}

// buildDirection lays out the classes and filters of one device.
func buildDirection(dir Direction, p PolicyConfig, ms []Member, minors map[string]uint16, shares []share, defaultRate uint64) DirectionPlan {
	dp := DirectionPlan{Direction: dir}
	capBits := uint64(p.NICBitsPerSec)
	perMember := p.Name != PolicyNone && !(p.Name == PolicyNetPrio && dir == Download)
	if !perMember && capBits == 0 {
		return dp // nothing to shape
	}
	dp.Qdisc = &Qdisc{Handle: MakeClassID(qdiscMajor, 0)}
	parent := dp.Qdisc.Handle
	if capBits > 0 {
		dp.Qdisc.DefaultMinor = defaultMinor
		root := newClass(MakeClassID(qdiscMajor, rootMinor), parent, capBits, capBits, minQuantumBytes, 0)
		root.Kind = KindRoot
		parent = root.ClassID
		def := newClass(MakeClassID(qdiscMajor, defaultMinor), parent, defaultRate, capBits, minQuantumBytes, MaxHTBPrio)
		if !perMember {
			def = newClass(def.ClassID, parent, capBits, capBits, minQuantumBytes, 0)
		}
		def.Kind = KindDefault
		dp.Classes = append(dp.Classes, root, def)
	}
	if !perMember {
		if p.Name == PolicyNone && capBits > 0 {
			fairLayout(&dp, p.nicQueue(), capBits)
		}
		return dp
	}
	minWeight := int64(0)
	for _, s := range shares {
		if minWeight == 0 || s.weight < minWeight {
			minWeight = s.weight
		}
	}
	for i, m := range ms {
		s := shares[i]
		id := MakeClassID(qdiscMajor, minors[m.SandboxID])
		c := newClass(id, parent, s.rate, s.ceil, QuantumBytes(s.weight, minWeight), s.prio)
		c.Kind, c.SandboxID, c.Function = KindMember, m.SandboxID, m.Function
		dp.Classes = append(dp.Classes, c)
		if p.usesIP() {
			dp.Filters = append(dp.Filters, Filter{
				Handle: u32HashTable<<20 | uint32(minors[m.SandboxID]), Priority: FilterPriority,
				MatchSrc: dir == Upload, IP: m.IP.Unmap(), ClassID: id, SandboxID: m.SandboxID,
			})
		}
	}
	sortPlan(&dp)
	return dp
}

func newClass(id, parent uint32, rate, ceil uint64, quantum uint32, prio uint32) Class {
	if ceil == 0 { // unlimited NIC: a member may not exceed its own rate
		ceil = rate
	}
	return Class{
		ClassID: id, ParentID: parent,
		RateBitsPerSec: rate, CeilBitsPerSec: ceil,
		BurstBytes: BurstBytes(rate), CburstBytes: BurstBytes(ceil),
		QuantumBytes: quantum, Prio: prio,
	}
}

// sortPlan orders classes parents-first (root, then the rest by id) and
// filters by handle, so plans compare element-wise.
func sortPlan(dp *DirectionPlan) {
	slices.SortFunc(dp.Classes, func(a, b Class) int {
		return cmp.Or(cmp.Compare(classDepth(a, dp.Qdisc), classDepth(b, dp.Qdisc)), cmp.Compare(a.ClassID, b.ClassID))
	})
	slices.SortFunc(dp.Filters, func(a, b Filter) int { return cmp.Compare(a.Handle, b.Handle) })
}

func classDepth(c Class, q *Qdisc) int {
	if q != nil && c.ParentID == q.Handle {
		return 0
	}
	return 1
}

// MemberClass returns the class of a sandbox in this direction.
func (dp DirectionPlan) MemberClass(sandboxID string) (Class, bool) {
	for _, c := range dp.Classes {
		if c.Kind == KindMember && c.SandboxID == sandboxID {
			return c, true
		}
	}
	return Class{}, false
}

// Direction returns the plan of one direction.
func (p Plan) Direction(d Direction) DirectionPlan {
	if d == Download {
		return p.Download
	}
	return p.Upload
}
