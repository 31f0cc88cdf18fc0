package shape

import (
	"context"
	"fmt"
	"math"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/faaslab/faaslab/internal/metricstest"
	"github.com/faaslab/faaslab/netshape/ns"
)

// testTopology builds a throwaway topology named faaslabt<hex>… and removes it
// in t.Cleanup.
func testTopology(t *testing.T, n int) *topology {
	t.Helper()
	requireRoot(t)
	tag := "t" + newTag()
	topo, err := newTopology(tag, n)
	if err != nil {
		t.Fatalf("build topology: %v", err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("remove topology: %v", err)
		}
		if err := removeTaggedNetNS(tag); err != nil {
			t.Errorf("remove leftovers: %v", err)
		}
	})
	return topo
}

func topoMembers(topo *topology, n int) []Member {
	return AccuracyPoint{N: n, MemoryMB: []int{128, 256, 384, 512}}.members(topo)
}

// assertKernelMatches reads the kernel state back and compares it with the plan.
func assertKernelMatches(t *testing.T, s *Shaper, want Plan) Plan {
	t.Helper()
	got, err := s.Dump()
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	for _, dir := range []Direction{Upload, Download} {
		if d := DiffKernel(want.Direction(dir), got.Direction(dir)); len(d) > 0 {
			t.Errorf("%s policy: kernel differs from plan:\n%s", want.Policy.Name, strings.Join(d, "\n"))
		}
	}
	return got
}

func TestShaperAppliesEveryPolicy(t *testing.T) {
	topo := testTopology(t, 4)
	ms := topoMembers(topo, 4)
	for i := range ms {
		ms[i].Priority = i
	}
	policies := []PolicyConfig{
		{Name: "none"},
		{Name: "none", NICBitsPerSec: 1e9},
		{Name: "fixed", FixedBitsPerSec: 20e6},
		{Name: "fixed", FixedBitsPerSec: 500e6, NICBitsPerSec: 1e9},
		{Name: "equal", NICBitsPerSec: 1e9},
		{Name: "proportional", NICBitsPerSec: 1e9},
		{Name: "proportional", NICBitsPerSec: 100e6, Strict: true},
		{Name: "priority", NICBitsPerSec: 1e9},
		{Name: "netprio", NICBitsPerSec: 1e9},
	}
	for _, p := range policies {
		t.Run(fmt.Sprintf("%s-%d-%v", p.Name, p.NICBitsPerSec, p.Strict), func(t *testing.T) {
			if err := DetectFeatures().Check(p); err != nil {
				t.Skipf("this kernel cannot run policy %s: %v", p.Name, err)
			}
			s, err := New(topo.links(), p, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(ms); err != nil {
				t.Fatal(err)
			}
			want, err := Build(s.Policy(), ms) // the NIC queue model resolved for this kernel
			if err != nil {
				t.Fatal(err)
			}
			got := assertKernelMatches(t, s, want)
			for _, c := range got.Upload.Classes {
				if c.Kind == "" {
					t.Errorf("class %s read back is not one of ours", FormatHandle(c.ClassID))
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			assertNoQdisc(t, topo)
		})
	}
}

// assertNoQdisc checks that neither uplink end has our root HTB any more.
func assertNoQdisc(t *testing.T, topo *topology) {
	t.Helper()
	l := topo.links()
	for _, d := range []struct {
		dir      Direction
		name, ns string
	}{{Upload, l.UplinkHost, l.HostNetNS}, {Download, l.UplinkRemote, l.RemoteNetNS}} {
		dev, err := openDevice(d.dir, d.name, d.ns)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := dev.readBack()
		dev.h.Close()
		if err != nil {
			t.Fatal(err)
		}
		if dp.Qdisc != nil || len(dp.Classes) > 0 {
			t.Errorf("%s: qdisc left behind after Close: %+v", d.name, dp)
		}
	}
}

// sendUDP pushes a few datagrams from sandbox i to the remote so its upload
// class counts bytes.
func sendUDP(t *testing.T, topo *topology, i int) {
	t.Helper()
	sendUDPPackets(t, topo, i, 20)
}

// sendUDPPackets sends n 1000-byte datagrams from sandbox i to the remote.
func sendUDPPackets(t *testing.T, topo *topology, i, n int) {
	t.Helper()
	err := inNetNS(ns.NamedPath(topo.sandboxNS[i]), func() error {
		// Unconnected, so ICMP port-unreachable replies do not fail later writes.
		c, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			return err
		}
		defer c.Close()
		// Room for all n in flight: a datagram's buffer is charged to the socket until it
		// leaves the shaper's queue, so the default send buffer would pace the writes.
		if err := setSendBuffer(c.(*net.UDPConn), n*4096); err != nil {
			return err
		}
		dst := &net.UDPAddr{IP: net.IP(topo.remoteIP.AsSlice()), Port: 9}
		for range n {
			if _, err := c.WriteTo(make([]byte, 1000), dst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send udp from sandbox %d: %v", i, err)
	}
}

// setSendBuffer sets c's send buffer above net.core.wmem_max (root: SO_SNDBUFFORCE).
func setSendBuffer(c *net.UDPConn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, n)
	}); err != nil {
		return err
	}
	return serr
}

func classBytes(t *testing.T, s *Shaper, dir Direction, sandboxID string) (uint64, uint32) {
	t.Helper()
	stats, err := s.ClassStats()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stats {
		if st.Direction == dir && st.SandboxID == sandboxID {
			return st.SentBytes, st.ClassID
		}
	}
	t.Fatalf("no %s class for %s", dir, sandboxID)
	return 0, 0
}

func TestShaperUpdateIsIncremental(t *testing.T) {
	topo := testTopology(t, 4)
	ms := topoMembers(topo, 4)
	reg := prometheus.NewPedanticRegistry()
	s, err := New(topo.links(), PolicyConfig{Name: "equal", NICBitsPerSec: 1e9}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Update(ms[:3]); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, topo, 0)
	// The packets wait for ARP first; on a slow (emulated) CPU they reach the class a
	// moment later.
	before, id0 := classBytes(t, s, Upload, "sb00")
	for deadline := time.Now().Add(5 * time.Second); before < 20*1000 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		before, id0 = classBytes(t, s, Upload, "sb00")
	}
	if before < 20*1000 {
		t.Fatalf("sandbox 0's class counted %d bytes, want ≥ 20000", before)
	}

	// Add a member: the stayers keep class id and counters (changed in
	// place, not recreated), the newcomer gets a class and filters.
	if err := s.Update(ms); err != nil {
		t.Fatal(err)
	}
	want, _ := Rebuild(Plan{}, s.Policy(), ms)
	got := assertKernelMatches(t, s, want)
	after, id0b := classBytes(t, s, Upload, "sb00")
	if id0b != id0 || after < before {
		t.Errorf("sb00's class was recreated: id %s→%s, bytes %d→%d", FormatHandle(id0), FormatHandle(id0b), before, after)
	}
	if c, _ := got.Upload.MemberClass("sb00"); c.RateBitsPerSec > 1e9/4 {
		t.Errorf("rate not lowered in place for 4 members: %d", c.RateBitsPerSec)
	}

	// Remove two: their classes and filters go, in both directions.
	if err := s.Update(ms[1:3]); err != nil {
		t.Fatal(err)
	}
	got, err = s.Dump()
	if err != nil {
		t.Fatal(err)
	}
	for _, dp := range []DirectionPlan{got.Upload, got.Download} {
		if len(dp.Filters) != 2 || len(dp.Classes) != 4 {
			t.Errorf("%s after removal: %d filters, %d classes; want 2 and 4 (root, default, 2 members)", dp.Direction, len(dp.Filters), len(dp.Classes))
		}
		for _, gone := range []string{"sb00", "sb03"} {
			if _, ok := dp.MemberClass(gone); ok {
				t.Errorf("%s: class of removed %s still there", dp.Direction, gone)
			}
			for _, f := range dp.Filters {
				if f.IP == topo.sandboxIP[0] || f.IP == topo.sandboxIP[3] {
					t.Errorf("%s: filter of a removed sandbox still there: %+v", dp.Direction, f)
				}
			}
		}
	}
	want, _ = Rebuild(Plan{}, s.Policy(), ms[1:3])
	assertKernelMatches(t, s, want)

	// Counters survive the removal of sb00's class (fn label bench00).
	sent := metricValue(t, reg, "faaslab_shaping_class_sent_bytes_total", "bench00", "upload")
	if sent < float64(before) {
		t.Errorf("bench00 sent bytes %v after removal, want ≥ %d", sent, before)
	}
	rate := metricValue(t, reg, "faaslab_shaping_configured_rate_bytes_per_second", "bench01", "download")
	if wantRate := float64(want.Download.Classes[2].RateBitsPerSec) / 8; rate != wantRate {
		t.Errorf("configured rate metric %v, want %v", rate, wantRate)
	}

	// Policy switch in place (same root qdisc parameters) and Close.
	if err := s.SetPolicy(PolicyConfig{Name: "proportional", NICBitsPerSec: 1e9}); err != nil {
		t.Fatal(err)
	}
	want, _ = Rebuild(Plan{}, s.Policy(), ms[1:3])
	assertKernelMatches(t, s, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoQdisc(t, topo)
}

// metricValue finds one sample by name and labels.
func metricValue(t *testing.T, reg *prometheus.Registry, name, function, direction string) float64 {
	t.Helper()
	return metricstest.Value(t, reg, name, prometheus.Labels{"function": function, "direction": direction})
}

func requireIperf(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Skip("iperf3 not installed (Debian package iperf3)")
	}
}

func quickCfg() AccuracyConfig {
	return AccuracyConfig{DurationSec: 3, OmitSec: 1, IperfPath: "iperf3"}
}

// TestFixedRateTraffic: two sandboxes capped at 20 Mbit/s each get about
// 0.956 × 20 Mbit/s of goodput (a loose correctness band, not a benchmark).
func TestFixedRateTraffic(t *testing.T) {
	requireIperf(t)
	topo := testTopology(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	row := runPoint(ctx, topo, AccuracyPoint{Policy: PolicyFixed, N: 2, RateBitsPerSec: 20e6}, quickCfg())
	if row.Err != nil {
		t.Fatal(row.Err)
	}
	for i, got := range row.PerSandbox {
		want := GoodputFactor * 20e6
		if got < 0.8*want || got > 1.1*want {
			t.Errorf("sandbox %d: %s, want within [0.8, 1.1] × %s", i, FormatBits(got), FormatBits(want))
		}
	}
	t.Logf("fixed 20M: %v", row.PerSandbox)
}

// TestProportionalTraffic: memory 1:3 under a 40 Mbit/s NIC shares 1:3.
func TestProportionalTraffic(t *testing.T) {
	requireIperf(t)
	topo := testTopology(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pt := AccuracyPoint{Policy: PolicyProportional, N: 2, RateBitsPerSec: 40e6, MemoryMB: []int{256, 768}}
	row := runPoint(ctx, topo, pt, quickCfg())
	if row.Err != nil {
		t.Fatal(row.Err)
	}
	ratio := row.PerSandbox[1] / row.PerSandbox[0]
	if math.Abs(ratio-3) > 0.6 {
		t.Errorf("goodput ratio %.2f (%s vs %s), want 3 ± 0.6", ratio, FormatBits(row.PerSandbox[1]), FormatBits(row.PerSandbox[0]))
	}
	if row.AggregateBits < 0.8*GoodputFactor*40e6 {
		t.Errorf("aggregate %s, want ≈ %s (work-conserving)", FormatBits(row.AggregateBits), FormatBits(GoodputFactor*40e6))
	}
	t.Logf("proportional 1:3: %v ratio %.3f", row.PerSandbox, ratio)
}
