package shape

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Flow queueing on kernels without fq_codel or sfq (this project's 6.18
// kernel): FlowBuckets HTB leaves under the NIC cap, each with rate cap/B,
// ceil cap and the same 64 KiB quantum, so every backlogged bucket gets an
// equal share of the cap (HTB's DRR between equal quanta), as fq_codel's
// per-flow DRR does. A cls_bpf program picks the bucket from the kernel's
// flow hash of the packet (skb_get_hash: the 5-tuple hash fq_codel uses), so
// flows land in buckets the way they land in fq_codel's flow queues.

// skbTCClassIDOffset is offsetof(struct __sk_buff, tc_classid) (uapi bpf.h:
// len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci,
// vlan_proto, priority, ingress_ifindex, ifindex, tc_index, cb[5], hash,
// tc_classid).
const skbTCClassIDOffset = 72

// flowHashInstructions is the classifier, in C:
//
//	int classify(struct __sk_buff *skb) {
//		skb->tc_classid = first + (bpf_get_hash_recalc(skb) >> shift);
//		return TC_ACT_OK; // direct action: class = 1: | tc_classid
//	}
func flowHashInstructions(f FlowHashFilter) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // keep ctx across the call
		asm.FnGetHashRecalc.Call(),  // r0 = skb flow hash (r1 = ctx)
		asm.RSh.Imm32(asm.R0, bucketShift(f.Buckets)),
		asm.Add.Imm32(asm.R0, int32(f.FirstMinor)),
		asm.StoreMem(asm.R6, skbTCClassIDOffset, asm.R0, asm.Word),
		asm.Mov.Imm(asm.R0, 0), // TC_ACT_OK
		asm.Return(),
	}
}

// loadFlowHash loads the classifier program; the caller closes it once the
// filter holds its own reference.
func loadFlowHash(f FlowHashFilter) (*ebpf.Program, error) {
	if f.Buckets < 2 || f.Buckets&(f.Buckets-1) != 0 {
		return nil, fmt.Errorf("flow hash: %d buckets is not a power of two ≥ 2", f.Buckets)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "faaslab_flowhash", Type: ebpf.SchedCLS,
		Instructions: flowHashInstructions(f), License: "GPL",
	})
	if err != nil {
		return nil, fmt.Errorf("load flow-hash bpf program (needs root and bpf(2)): %w", err)
	}
	return prog, nil
}

// addFlowHash: `tc filter add dev D parent 1: protocol all prio 20 handle 1
// bpf da fd PROG name faaslab-flowhash-b256-m1000 classid 1:`.
func (d *device) addFlowHash(f FlowHashFilter) error {
	prog, err := loadFlowHash(f)
	if err != nil {
		return err
	}
	defer prog.Close() // the filter keeps the program alive
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: d.index(), Parent: MakeClassID(qdiscMajor, 0), Handle: f.Handle,
			Priority: f.Priority, Protocol: unix.ETH_P_ALL,
		},
		ClassId: f.ClassID, Fd: prog.FD(), Name: f.name(), DirectAction: true,
	}
	if err := d.h.FilterAdd(filter); err != nil {
		return fmt.Errorf("add flow-hash bpf filter on %s: %w", d.name, err)
	}
	return nil
}

// addLeaf: `tc qdisc add dev D parent 1:2 handle 2: fq_codel|sfq` with the
// kernel's defaults (fq_codel: 1024 flows, target 5 ms, interval 100 ms).
func (d *device) addLeaf(l LeafQdisc) error {
	attrs := netlink.QdiscAttrs{LinkIndex: d.index(), Parent: l.Parent, Handle: l.Handle}
	var q netlink.Qdisc
	switch l.Kind {
	case NICQueueFQCodel:
		q = netlink.NewFqCodel(attrs)
	case NICQueueSFQ:
		q = &netlink.Sfq{QdiscAttrs: attrs}
	default:
		return fmt.Errorf("leaf qdisc kind %q: want fq_codel or sfq", l.Kind)
	}
	if err := d.h.QdiscAdd(q); err != nil {
		return fmt.Errorf("add %s leaf qdisc under %s on %s: %w", l.Kind, FormatHandle(l.Parent), d.name, err)
	}
	return nil
}

// addQueue installs the NIC queue model's leaf qdisc and flow filter (after
// the classes they hang from).
func (d *device) addQueue(dp DirectionPlan) error {
	var errs []error
	if dp.Leaf != nil {
		errs = append(errs, d.addLeaf(*dp.Leaf))
	}
	if dp.FlowHash != nil {
		errs = append(errs, d.addFlowHash(*dp.FlowHash))
	}
	return errors.Join(errs...)
}

// readLeaf finds an fq_codel or sfq qdisc under one of our classes:
// `tc qdisc show dev D`.
func (d *device) readLeaf() (*LeafQdisc, error) {
	qs, err := d.h.QdiscList(d.link)
	if err != nil {
		return nil, fmt.Errorf("list qdiscs on %s: %w", d.name, err)
	}
	for _, q := range qs {
		a := q.Attrs()
		if a.Parent>>16 != qdiscMajor || (q.Type() != NICQueueFQCodel && q.Type() != NICQueueSFQ) {
			continue
		}
		return &LeafQdisc{Kind: q.Type(), Parent: a.Parent, Handle: a.Handle}, nil
	}
	return nil, nil
}

// fromBpf recognises our flow-hash filter by its name.
func fromBpf(f netlink.Filter) (*FlowHashFilter, bool) {
	b, ok := f.(*netlink.BpfFilter)
	if !ok {
		return nil, false
	}
	buckets, first, ok := parseFlowHashName(b.Name)
	if !ok || !b.DirectAction {
		return nil, false
	}
	return &FlowHashFilter{Priority: b.Priority, Handle: b.Handle, ClassID: b.ClassId, Buckets: buckets, FirstMinor: first}, true
}
