package shape

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const c3LargeNIC = 560_000_000

func TestParseNICQueue(t *testing.T) {
	for in, want := range map[string]string{"": "fair", " FIFO ": "fifo", "fq_codel": "fq_codel", "flowhash": "flowhash"} {
		if got, err := ParseNICQueue(in); err != nil || got != want {
			t.Errorf("ParseNICQueue(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseNICQueue("red")
	if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), `"red"`) || !strings.Contains(err.Error(), "fifo") {
		t.Errorf("bad queue: %v (want the value and the choices named)", err)
	}
	if err := (PolicyConfig{Name: "none", NICBitsPerSec: 1e9, NICQueue: "red"}).Validate(); err == nil {
		t.Error("Validate accepted nic_queue red")
	}
}

func TestPlanNoneFIFO(t *testing.T) {
	plan, err := Build(PolicyConfig{Name: "none", NICBitsPerSec: c3LargeNIC, NICQueue: "fifo"}, testMembers(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, dp := range []DirectionPlan{plan.Upload, plan.Download} {
		if len(dp.Classes) != 2 || dp.Leaf != nil || dp.FlowHash != nil || dp.Qdisc.DefaultMinor != defaultMinor {
			t.Errorf("fifo: want root + catch-all only, got %+v", dp)
		}
		if def := dp.Classes[1]; def.Kind != KindDefault || def.RateBitsPerSec != c3LargeNIC {
			t.Errorf("fifo catch-all: %+v", def)
		}
	}
	if plan.Policy.NICQueue != "fifo" {
		t.Errorf("plan policy queue %q", plan.Policy.NICQueue)
	}
}

func TestPlanNoneFlowHash(t *testing.T) {
	for _, q := range []string{"", "fair", "flowhash"} { // unresolved fair builds flowhash
		plan, err := Build(PolicyConfig{Name: "none", NICBitsPerSec: c3LargeNIC, NICQueue: q}, testMembers(5))
		if err != nil {
			t.Fatal(err)
		}
		if plan.Policy.NICQueue != NICQueueFlowHash {
			t.Errorf("queue %q: plan says %q", q, plan.Policy.NICQueue)
		}
		for _, dp := range []DirectionPlan{plan.Upload, plan.Download} {
			checkFlowHashDirection(t, dp)
		}
	}
}

func checkFlowHashDirection(t *testing.T, dp DirectionPlan) {
	t.Helper()
	if dp.Qdisc == nil || len(dp.Classes) != 1+FlowBuckets {
		t.Fatalf("%s: want root + %d buckets, got %d classes", dp.Direction, FlowBuckets, len(dp.Classes))
	}
	root := dp.Classes[0]
	if root.Kind != KindRoot || root.RateBitsPerSec != c3LargeNIC {
		t.Fatalf("root: %+v", root)
	}
	var sum uint64
	seen := map[uint32]bool{}
	for _, c := range dp.Classes[1:] {
		minor := c.ClassID & 0xffff
		if c.Kind != KindFlowBucket || c.ParentID != root.ClassID || minor < firstFlowMinor || minor >= firstFlowMinor+FlowBuckets || seen[minor] {
			t.Fatalf("bucket %s: %+v", FormatHandle(c.ClassID), c)
		}
		seen[minor] = true
		if minor <= lastMemberMinor {
			t.Errorf("bucket minor %x overlaps the member range", minor)
		}
		if c.CeilBitsPerSec != c3LargeNIC || c.QuantumBytes != minQuantumBytes || c.QuantumBytes < 64<<10 || c.Prio != 0 {
			t.Errorf("bucket %s: ceil %d quantum %d prio %d: want ceil = cap, equal quanta ≥ 64 KiB, prio 0", FormatHandle(c.ClassID), c.CeilBitsPerSec, c.QuantumBytes, c.Prio)
		}
		sum += c.RateBitsPerSec
	}
	if sum > c3LargeNIC || sum < c3LargeNIC-8*FlowBuckets {
		t.Errorf("bucket rates sum to %d, want the cap %d (no oversubscription)", sum, c3LargeNIC)
	}
	if dp.Qdisc.DefaultMinor != firstFlowMinor {
		t.Errorf("default minor %x, want bucket 0", dp.Qdisc.DefaultMinor)
	}
	want := FlowHashFilter{Priority: flowFilterPriority, Handle: flowFilterHandle, ClassID: MakeClassID(qdiscMajor, 0), Buckets: FlowBuckets, FirstMinor: firstFlowMinor}
	if dp.FlowHash == nil || *dp.FlowHash != want || dp.Leaf != nil || len(dp.Filters) != 0 {
		t.Errorf("flow filter %+v leaf %+v filters %d", dp.FlowHash, dp.Leaf, len(dp.Filters))
	}
}

func TestPlanNoneLeafQdisc(t *testing.T) {
	for _, q := range []string{"fq_codel", "sfq"} {
		plan, err := Build(PolicyConfig{Name: "none", NICBitsPerSec: c3LargeNIC, NICQueue: q}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := LeafQdisc{Kind: q, Parent: MakeClassID(1, 2), Handle: MakeClassID(2, 0)}
		for _, dp := range []DirectionPlan{plan.Upload, plan.Download} {
			if len(dp.Classes) != 2 || dp.Leaf == nil || *dp.Leaf != want || dp.FlowHash != nil {
				t.Errorf("%s: %+v leaf %+v", q, dp.Classes, dp.Leaf)
			}
		}
	}
}

// The NIC queue is about policy none: other policies' plans ignore it, and
// an unlimited NIC is not shaped at all.
func TestNICQueueLeavesOtherPoliciesAlone(t *testing.T) {
	ms := testMembers(4)
	for _, name := range []string{"equal", "proportional", "priority", "netprio"} {
		a, err := Build(PolicyConfig{Name: name, NICBitsPerSec: 1e9, NICQueue: "fifo"}, ms)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Build(PolicyConfig{Name: name, NICBitsPerSec: 1e9}, ms)
		if err != nil {
			t.Fatal(err)
		}
		a.Policy, b.Policy = PolicyConfig{}, PolicyConfig{}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: plan depends on the NIC queue", name)
		}
		if a.Upload.Leaf != nil || a.Upload.FlowHash != nil {
			t.Errorf("%s: has a NIC queue model", name)
		}
	}
	plan, err := Build(PolicyConfig{Name: "none"}, ms)
	if err != nil || plan.Upload.Qdisc != nil || plan.Upload.FlowHash != nil {
		t.Errorf("unlimited none: %+v %v", plan.Upload, err)
	}
}

func TestFlowHashHelpers(t *testing.T) {
	for b, want := range map[uint32]int32{2: 31, 64: 26, 256: 24, 1024: 22} {
		if got := bucketShift(b); got != want {
			t.Errorf("bucketShift(%d) = %d, want %d", b, got, want)
		}
		// The top bits of the largest hash land in the last bucket.
		if last := uint32(0xffffffff) >> bucketShift(b); last != b-1 {
			t.Errorf("%d buckets: max hash → %d", b, last)
		}
	}
	f := FlowHashFilter{Buckets: 256, FirstMinor: 0x1000}
	if b, m, ok := parseFlowHashName(f.name()); !ok || b != 256 || m != 0x1000 {
		t.Errorf("name %q parsed to %d %x %v", f.name(), b, m, ok)
	}
	if _, _, ok := parseFlowHashName("cls_something"); ok {
		t.Error("foreign bpf filter recognised as ours")
	}
	if _, err := loadFlowHash(FlowHashFilter{Buckets: 100}); err == nil {
		t.Error("100 buckets accepted (not a power of two)")
	}
}

func TestResolveNICQueue(t *testing.T) {
	none := PolicyConfig{Name: "none", NICBitsPerSec: c3LargeNIC}
	thisKernel := Features{Qdiscs: map[string]bool{"htb": true, "fq_codel": false, "sfq": false}, Classifiers: map[string]bool{"u32": true, "bpf": true}}
	ec2 := Features{Qdiscs: map[string]bool{"htb": true, "fq_codel": true, "sfq": true}, Classifiers: map[string]bool{"u32": true, "bpf": true}}
	bare := Features{Qdiscs: map[string]bool{"htb": true}, Classifiers: map[string]bool{"u32": true}}
	for _, tc := range []struct {
		f          Features
		queue, out string
		missing    bool
	}{
		{thisKernel, "", "flowhash", false},
		{thisKernel, "fair", "flowhash", false},
		{thisKernel, "fifo", "fifo", false},
		{thisKernel, "fq_codel", "", true},
		{ec2, "fair", "fq_codel", false},
		{ec2, "sfq", "sfq", false},
		{ec2, "flowhash", "flowhash", false},
		{bare, "fair", "", true},
		{bare, "fifo", "fifo", false},
	} {
		p := none
		p.NICQueue = tc.queue
		got, err := tc.f.ResolveNICQueue(p)
		if tc.missing {
			if !errors.Is(err, ErrMissingFeature) || !strings.Contains(err.Error(), "nic_queue") {
				t.Errorf("%q: want a missing-feature error naming nic_queue, got %v", tc.queue, err)
			}
			if cerr := tc.f.Check(p); cerr == nil {
				t.Errorf("%q: Check passed a queue the kernel cannot run", tc.queue)
			}
			continue
		}
		if err != nil || got.NICQueue != tc.out {
			t.Errorf("%q: got %q, %v; want %q", tc.queue, got.NICQueue, err, tc.out)
		}
	}
	eq := PolicyConfig{Name: "equal", NICBitsPerSec: 1e9}
	if got, err := bare.ResolveNICQueue(eq); err != nil || got != eq {
		t.Errorf("equal is not about the NIC queue: %+v %v", got, err)
	}
}

// TestShaperNICQueues applies every NIC queue model this kernel can run to a
// throwaway uplink, reads qdiscs, classes and filters back, switches models in
// place and checks that Close leaves nothing.
func TestShaperNICQueues(t *testing.T) {
	topo := testTopology(t, 2)
	ms := topoMembers(topo, 2)
	f := DetectFeatures()
	for _, q := range []string{"fair", "fifo", "flowhash", "fq_codel", "sfq"} {
		t.Run(q, func(t *testing.T) {
			p := PolicyConfig{Name: "none", NICBitsPerSec: c3LargeNIC, NICQueue: q}
			resolved, err := f.ResolveNICQueue(p)
			if err != nil {
				t.Skipf("this kernel cannot run nic_queue %s: %v", q, err)
			}
			s, err := New(topo.links(), p, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			if got := s.Policy().NICQueue; got != resolved.NICQueue || got == NICQueueFair {
				t.Errorf("shaper reports queue %q, want the resolved model %q", got, resolved.NICQueue)
			}
			if err := s.Update(ms); err != nil {
				t.Fatal(err)
			}
			want, err := Build(s.Policy(), ms)
			if err != nil {
				t.Fatal(err)
			}
			got := assertKernelMatches(t, s, want)
			if (got.Upload.FlowHash != nil) != (resolved.NICQueue == NICQueueFlowHash) || (got.Download.Leaf != nil) != (resolved.NICQueue == NICQueueFQCodel || resolved.NICQueue == NICQueueSFQ) {
				t.Errorf("%s read back: flow filter %+v leaf %+v", resolved.NICQueue, got.Upload.FlowHash, got.Download.Leaf)
			}
			stats, err := s.ClassStats()
			if err != nil {
				t.Fatal(err)
			}
			if len(stats) > 4 { // root + one catch-all or folded bucket entry per direction
				t.Errorf("class stats not folded: %d entries", len(stats))
			}
			// Switch to the other end in place and back: the device converges.
			other := PolicyConfig{Name: "none", NICBitsPerSec: c3LargeNIC, NICQueue: "fifo"}
			if resolved.NICQueue == NICQueueFIFO {
				other.NICQueue = "fair"
			}
			if err := s.SetPolicy(other); err != nil {
				t.Fatal(err)
			}
			if want, err = Build(s.Policy(), ms); err != nil {
				t.Fatal(err)
			}
			assertKernelMatches(t, s, want)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			assertNoQdisc(t, topo)
		})
	}
}

// TestNICQueueFairness measures real iperf3 flows (one client per sandbox
// netns, separate source addresses, released together by a barrier) through
// a 560 Mbit/s emulated NIC under the fair model and the drop-tail FIFO, at 8
// and 26 flows, downloads as in the paper's Fig. 5. It asserts a ratio within
// one run, not a timing: the fair model's Jain index is ≥ 0.85 and clearly above
// the FIFO's.
func TestNICQueueFairness(t *testing.T) {
	requireRoot(t)
	requireIperf(t)
	if _, err := DetectFeatures().ResolveNICQueue(PolicyConfig{Name: "none", NICBitsPerSec: c3LargeNIC}); err != nil {
		t.Skipf("no fair NIC queue on this kernel: %v", err)
	}
	var pts []AccuracyPoint
	for _, n := range []int{8, 26} {
		for _, q := range []string{NICQueueFIFO, NICQueueFair} {
			pts = append(pts, AccuracyPoint{Policy: PolicyNone, N: n, RateBitsPerSec: c3LargeNIC, Download: true, NICQueue: q})
		}
	}
	cfg := AccuracyConfig{Points: pts, DurationSec: 4, OmitSec: 1, Tag: "t" + newTag()}
	t.Cleanup(func() { _ = removeTaggedNetNS(cfg.Tag) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rows, err := MeasureAccuracy(ctx, cfg, testWriter{t})
	if err != nil {
		t.Fatalf("measure: %v", err)
	}
	compared := 0
	for i := 0; i+1 < len(rows); i += 2 {
		fifo, fair := rows[i], rows[i+1]
		n := fair.Point.N
		t.Logf("N=%d fifo: Jain %.3f (on the wire %.3f) median/fair %.2f aggregate %s wire %s | fair (%s): Jain %.3f (on the wire %.3f) median/fair %.2f aggregate %s wire %s",
			n, fifo.Jain, fifo.WireJain, fifo.MedianBits/fifo.ExpectedBits, FormatBits(fifo.AggregateBits), FormatBits(fifo.WireBits),
			fair.Point.NICQueue, fair.Jain, fair.WireJain, fair.MedianBits/fair.ExpectedBits, FormatBits(fair.AggregateBits), FormatBits(fair.WireBits))
		// Sharing shows only where the NIC is the bottleneck; where the CPU is (an emulated
		// VM moves less than the cap), every queue looks fair and there is nothing to compare.
		if fifo.WireBits < 0.9*c3LargeNIC {
			t.Logf("N=%d: the NIC was not the bottleneck (fifo moved %s of %s): this machine's CPU was; nothing to compare", n, FormatBits(fifo.WireBits), FormatBits(c3LargeNIC))
			continue
		}
		// Judged on the links' counters over one window: iperf3's own averages also count
		// how unevenly 26 clients start on a loaded 2-core box.
		compared++
		// Hashed fair queueing (256 buckets here, 1024 in fq_codel) lets two flows share a
		// bucket now and then: one such pair among 8 flows gives Jain 0.94, two 0.88. So the
		// bar is 0.85, and clearly above what the drop-tail FIFO does on the same run.
		if len(fair.PerSandboxWire) != n || fair.WireJain < 0.85 || (fifo.WireJain < 0.75 && fair.WireJain < fifo.WireJain+0.1) {
			t.Errorf("N=%d: Jain on the wire fair %.3f, fifo %.3f: want fair ≥ 0.85 and well above an unfair fifo", n, fair.WireJain, fifo.WireJain)
		}
	}
	if compared == 0 {
		t.Skip("the NIC was the bottleneck at no point: this machine cannot show how it shares")
	}
}
