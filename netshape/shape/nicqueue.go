package shape

import (
	"fmt"
	"strings"
)

// NIC queue models: how flows share the emulated NIC under policy "none".
//
// A real host shares its NIC per flow (Linux defaults to fq_codel), so flows
// of co-located functions get nearly equal rates. A drop-tail FIFO under the
// cap does not: measured through the daemon on kernel 6.18, 26 equal iperf3
// flows got Jain's index 0.21 and the median flow 6.3 of a fair 20.7 Mbit/s.
// "fair" is therefore the default; it resolves, in order of preference, to
// fq_codel or sfq as the leaf qdisc under the cap, or, on kernels with
// neither, to an HTB flow-hash emulation (see flowhash.go).
const (
	NICQueueFair     = "fair"     // resolve to the best per-flow model this kernel has
	NICQueueFIFO     = "fifo"     // drop-tail FIFO under the cap (HTB leaf's pfifo)
	NICQueueFQCodel  = "fq_codel" // fq_codel leaf under the cap (Linux's default qdisc)
	NICQueueSFQ      = "sfq"      // sfq leaf under the cap
	NICQueueFlowHash = "flowhash" // HTB buckets fed by a cls_bpf flow hash
)

// NICQueueNames lists the accepted values of PolicyConfig.NICQueue.
func NICQueueNames() []string {
	return []string{NICQueueFair, NICQueueFIFO, NICQueueFQCodel, NICQueueSFQ, NICQueueFlowHash}
}

// Flow-hash layout: FlowBuckets HTB leaves 1:1000 … 1:10ff under the cap
// class. The minors lie above every member minor (≤ 0xffe), so buckets never
// collide with member classes.
const (
	// FlowBuckets is the number of hash buckets (a power of two, so the
	// bucket is the top bits of the flow hash, as fq_codel's reciprocal_scale
	// picks its bucket). 256 buckets put 26 flows in distinct buckets with
	// probability 0.27 and expect 1.3 colliding pairs (fq_codel: 1024, 0.32).
	FlowBuckets         = 256
	firstFlowMinor      = 0x1000
	flowFilterPriority  = 20
	flowFilterHandle    = 1
	leafQdiscMajor      = 2
	flowHashFilterLabel = "faaslab-flowhash"
)

// ParseNICQueue canonicalises a NIC queue name ("" = fair).
func ParseNICQueue(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return NICQueueFair, nil
	}
	for _, q := range NICQueueNames() {
		if n == q {
			return q, nil
		}
	}
	return "", fmt.Errorf("%w: nic_queue %q: choose one of %s", ErrInvalidPolicy, name, strings.Join(NICQueueNames(), ", "))
}

// nicQueue returns the model a plan builds. An unresolved "fair" builds the
// flow-hash emulation, which needs only htb and the bpf classifier; the
// Shaper resolves "fair" against the kernel first (ResolveNICQueue).
func (p PolicyConfig) nicQueue() string {
	q, err := ParseNICQueue(p.NICQueue)
	if err != nil || q == NICQueueFair {
		return NICQueueFlowHash
	}
	return q
}

// LeafQdisc is a classless qdisc under the cap's catch-all class:
// `tc qdisc add dev D parent 1:2 handle 2: fq_codel|sfq` (kernel defaults).
type LeafQdisc struct {
	Kind   string // fq_codel | sfq
	Parent uint32
	Handle uint32
}

// FlowHashFilter is the classifier of the flow-hash model:
// `tc filter add dev D parent 1: protocol all prio 20 handle 1 bpf da
// obj flowhash classid 1:` where the program sets skb->tc_classid to
// FirstMinor + (skb flow hash >> (32 − log2 Buckets)).
type FlowHashFilter struct {
	Priority   uint16
	Handle     uint32
	ClassID    uint32 // major only (1:0): the program supplies the minor
	Buckets    uint32
	FirstMinor uint16
}

// name is the filter's TCA_BPF_NAME; it carries the layout so a read-back
// filter can be compared with the plan.
func (f FlowHashFilter) name() string {
	return fmt.Sprintf("%s-b%d-m%x", flowHashFilterLabel, f.Buckets, f.FirstMinor)
}

// parseFlowHashName is the inverse of name.
func parseFlowHashName(s string) (buckets uint32, first uint16, ok bool) {
	n, err := fmt.Sscanf(s, flowHashFilterLabel+"-b%d-m%x", &buckets, &first)
	return buckets, first, err == nil && n == 2
}

// bucketShift is 32 − log2(buckets): the right shift taking a 32-bit hash to
// a bucket index. buckets must be a power of two ≥ 2.
func bucketShift(buckets uint32) int32 {
	shift := int32(32)
	for b := buckets; b > 1; b >>= 1 {
		shift--
	}
	return shift
}

// fairLayout adds the NIC queue model's pieces under the cap class of a
// policy-"none" direction plan that already holds the root and catch-all.
func fairLayout(dp *DirectionPlan, queue string, capBits uint64) {
	switch queue {
	case NICQueueFQCodel, NICQueueSFQ:
		dp.Leaf = &LeafQdisc{Kind: queue, Parent: MakeClassID(qdiscMajor, defaultMinor), Handle: MakeClassID(leafQdiscMajor, 0)}
	case NICQueueFlowHash:
		// The buckets replace the catch-all class; unclassified traffic
		// (there is none: the program classifies every packet) goes to bucket 0.
		root := dp.Classes[0]
		dp.Classes = dp.Classes[:1]
		dp.Qdisc.DefaultMinor = firstFlowMinor
		// Whole bytes per second: HTB stores rates in bytes/s.
		rate := max(capBits/FlowBuckets/8*8, MinRateBitsPerSec)
		for i := range uint32(FlowBuckets) {
			c := newClass(MakeClassID(qdiscMajor, uint16(firstFlowMinor+i)), root.ClassID, rate, capBits, minQuantumBytes, 0)
			c.Kind = KindFlowBucket
			dp.Classes = append(dp.Classes, c)
		}
		dp.FlowHash = &FlowHashFilter{
			Priority: flowFilterPriority, Handle: flowFilterHandle, ClassID: MakeClassID(qdiscMajor, 0),
			Buckets: FlowBuckets, FirstMinor: firstFlowMinor,
		}
	}
}

// sameQueue reports whether two direction plans have the same NIC queue
// model (leaf qdisc and flow-hash filter).
func sameQueue(a, b DirectionPlan) bool {
	return ptrEqual(a.Leaf, b.Leaf) && ptrEqual(a.FlowHash, b.FlowHash)
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// ResolveNICQueue turns NICQueue "fair" into the concrete model this kernel
// can run (fq_codel, else sfq, else flowhash) and checks that an explicitly
// chosen model is available. Other policies and an unlimited NIC are
// returned unchanged: the NIC queue applies to policy "none" under a cap.
func (f Features) ResolveNICQueue(p PolicyConfig) (PolicyConfig, error) {
	q, err := ParseNICQueue(p.NICQueue)
	if err != nil {
		return p, err
	}
	if p.name() != PolicyNone || p.NICBitsPerSec == 0 {
		return p, nil
	}
	has := map[string]bool{
		NICQueueFIFO:     true,
		NICQueueFQCodel:  f.Qdiscs[NICQueueFQCodel],
		NICQueueSFQ:      f.Qdiscs[NICQueueSFQ],
		NICQueueFlowHash: f.Classifiers["bpf"],
	}
	if q == NICQueueFair {
		for _, c := range []string{NICQueueFQCodel, NICQueueSFQ, NICQueueFlowHash} {
			if has[c] {
				p.NICQueue = c
				return p, nil
			}
		}
		return p, fmt.Errorf("%w: nic_queue fair needs qdisc fq_codel or sfq, or classifier bpf, and this kernel has none of them: set network.nic_queue: fifo", ErrMissingFeature)
	}
	if !has[q] {
		need := "qdisc " + q
		if q == NICQueueFlowHash {
			need = "classifier bpf"
		}
		return p, fmt.Errorf("%w: nic_queue %s needs %s: use nic_queue fair or fifo", ErrMissingFeature, q, need)
	}
	p.NICQueue = q
	return p, nil
}
