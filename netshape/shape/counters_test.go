package shape

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaslab/faaslab/internal/metricstest"
)

const (
	metricSent  = "faaslab_shaping_class_sent_bytes_total"
	metricDrops = "faaslab_shaping_class_dropped_packets_total"
)

// slowShaper shapes two sandboxes at 1 Mbit/s each (fixed policy) and sends traffic
// 20 kB from sandbox 0 until its class has counted them (the first wait for ARP).
func slowShaper(t *testing.T) (*topology, []Member, *Shaper, *prometheus.Registry) {
	t.Helper()
	topo := testTopology(t, 2)
	ms := topoMembers(topo, 2)
	reg := prometheus.NewPedanticRegistry()
	s, err := New(topo.links(), PolicyConfig{Name: PolicyFixed, FixedBitsPerSec: 1e6}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Update(ms); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, topo, 0)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := classBytes(t, s, Upload, "sb00"); b >= 20*1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sandbox 0's class counted < 20000 bytes within 5 s")
		}
	}
	return topo, ms, s, reg
}

// TestShaperKeepsDropsOfRemovedClasses: the per-function drop counter is a counter that
// keeps the drops of classes since deleted (a per-sandbox class goes with its sandbox).
func TestShaperKeepsDropsOfRemovedClasses(t *testing.T) {
	topo, ms, s, reg := slowShaper(t)
	// 3000 packets at once overflow the class's 1000-packet queue at 1 Mbit/s.
	sendUDPPackets(t, topo, 0, 3000)
	fn := prometheus.Labels{"function": "bench00", "direction": "upload"}
	drops := metricstest.ValueOr(t, reg, metricDrops, fn, 0)
	for deadline := time.Now().Add(5 * time.Second); drops == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		drops = metricstest.ValueOr(t, reg, metricDrops, fn, 0)
	}
	if drops == 0 {
		t.Fatalf("%s: no drops counted for bench00 after 3000 packets at 1 Mbit/s", metricDrops)
	}
	if err := s.Update(ms[1:]); err != nil { // sb00's classes go
		t.Fatal(err)
	}
	if got := metricstest.Value(t, reg, metricDrops, fn); got < drops {
		t.Errorf("%s = %v after sb00's class was removed, want >= %v (a counter never goes down)", metricDrops, got, drops)
	}
}

// TestShaperCountsClassOnceWhenDeleteFails: a class whose delete fails (HTB refuses to
// delete a class with a child) stays live under its function and counts once; once
// deleted, still once.
func TestShaperCountsClassOnceWhenDeleteFails(t *testing.T) {
	_, ms, s, reg := slowShaper(t)
	fn := prometheus.Labels{"function": "bench00", "direction": "upload"}
	bytes, id := classBytes(t, s, Upload, "sb00")
	total := memberSentBytes(t, reg)
	// Someone else's child class under sb00's class makes its delete fail (EBUSY).
	d := s.devs[Upload]
	child := Class{ClassID: id&0xffff0000 | 0xfff0, ParentID: id, RateBitsPerSec: MinRateBitsPerSec, CeilBitsPerSec: MinRateBitsPerSec}
	if err := d.addClass(child); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ms[1:]); err == nil {
		t.Fatal("removing sb00 succeeded although its class has a child")
	}
	if got := metricstest.Value(t, reg, metricSent, fn); got != float64(bytes) {
		t.Errorf("%s = %v after a failed delete, want %d (the class is still live)", metricSent, got, bytes)
	}
	if got := memberSentBytes(t, reg); got != total {
		t.Errorf("sent bytes of all functions %v after a failed delete, want %v (a class counted twice)", got, total)
	}
	if err := d.delClass(child); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ms[1:]); err != nil {
		t.Fatal(err)
	}
	if got := metricstest.Value(t, reg, metricSent, fn); got != float64(bytes) {
		t.Errorf("%s = %v once deleted, want %d", metricSent, got, bytes)
	}
	if got := memberSentBytes(t, reg); got != total {
		t.Errorf("sent bytes of all functions %v once deleted, want %v", got, total)
	}
}

// memberSentBytes sums the upload sent bytes of every function label but the NIC's and
// the unclassified traffic's (stray packets may add to those).
func memberSentBytes(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != metricSent {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["direction"] == "upload" && l["function"] != labelNIC && l["function"] != labelUnclassified {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestLedgerLastReadStandsIn: a class's counters stay when a read fails (nothing
// observed), move to retired only when the class left the applied plan, and a class
// re-created under the same id for another sandbox starts from zero.
func TestLedgerLastReadStandsIn(t *testing.T) {
	l := newLedger()
	a := Class{ClassID: 0x10010, Kind: KindMember, SandboxID: "sb1", Function: "f"}
	l.observe(Upload, a, classCounters{bytes: 100, drops: 2})
	l.observe(Upload, a, classCounters{bytes: 50, drops: 1}) // an older dump
	if got := l.live(Upload, a); got != (classCounters{100, 2}) {
		t.Errorf("live = %+v, want {100 2}", got)
	}
	l.settle(Upload, []Class{a}) // delete failed: still applied
	if got := l.retired[metricKey{"f", Upload}]; got != (classCounters{}) {
		t.Errorf("retired = %+v while the class is live, want none", got)
	}
	l.settle(Upload, nil) // deleted; its read before the delete failed: the last read stands
	if got := l.retired[metricKey{"f", Upload}]; got != (classCounters{100, 2}) {
		t.Errorf("retired = %+v, want {100 2}", got)
	}
	b := a
	b.SandboxID, b.Function = "sb2", "g"
	if got := l.live(Upload, b); got != (classCounters{}) {
		t.Errorf("re-created class starts at %+v, want zero", got)
	}
}

// TestLedgerForgetsAGoneFunction: a deleted function's totals go; one with a class still
// in place keeps them.
func TestLedgerForgetsAGoneFunction(t *testing.T) {
	l := newLedger()
	a := Class{ClassID: 0x10010, Kind: KindMember, SandboxID: "sb1", Function: "f"}
	b := Class{ClassID: 0x10011, Kind: KindMember, SandboxID: "sb2", Function: "g"}
	l.observe(Upload, a, classCounters{bytes: 100})
	l.observe(Download, a, classCounters{bytes: 7})
	l.observe(Upload, b, classCounters{bytes: 30})
	l.settle(Upload, []Class{b})
	l.settle(Download, nil)
	l.forget("g") // b is still in place
	l.forget("f")
	if _, ok := l.retired[metricKey{"f", Upload}]; ok {
		t.Error("f's upload total kept after forget")
	}
	if _, ok := l.retired[metricKey{"f", Download}]; ok {
		t.Error("f's download total kept after forget")
	}
	if got := l.live(Upload, b); got != (classCounters{bytes: 30}) {
		t.Errorf("g's live class = %+v after forget of g while in place, want {30 0}", got)
	}
	l.settle(Upload, nil)
	if got := l.retired[metricKey{"g", Upload}]; got != (classCounters{bytes: 30}) {
		t.Errorf("g's total = %+v, want {30 0}: forgetting a function still shaped dropped it", got)
	}
}
