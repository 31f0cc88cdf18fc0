package shape

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"

	"github.com/faaslab/faaslab/netshape/ns"
	fns "github.com/faaslab/faaslab/netshape/ns"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestSetIfPrioMapErrors(t *testing.T) {
	dir := t.TempDir() // not a cgroup at all
	if err := SetIfPrioMap(dir, "lo", 1); !errors.Is(err, ErrNetPrioUnavailable) {
		t.Errorf("plain dir: %v", err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		err := SetIfPrioMap("/sys/fs/cgroup/unified", "lo", 1)
		if !errors.Is(err, ErrNetPrioUnavailable) || !strings.Contains(err.Error(), "cgroup v2") {
			t.Errorf("cgroup v2 dir: %v", err)
		}
	}
}

// TestNetPrioShared reproduces docs/nic-model.md's net_prio measurement: two processes in the
// host netns, in two net_prio cgroups mapped to HTB classes of 20 and 60
// Mbit/s on a veth leading to a throwaway netns.
func TestNetPrioShared(t *testing.T) {
	requireRoot(t)
	requireIperf(t)
	if err := DetectFeatures().NetPrio.usable(); err != nil {
		t.Skipf("net_prio unusable here: %v", err)
	}
	tag := "t" + newTag()
	base := "faaslab" + tag
	mp, mounted, err := EnsureNetPrioMounted(filepath.Join(os.TempDir(), base+"np"))
	if err != nil {
		t.Skipf("cannot mount net_prio: %v", err)
	}
	cgs := []string{filepath.Join(mp, base+"a"), filepath.Join(mp, base+"b")}
	t.Cleanup(func() {
		for _, cg := range cgs {
			_ = os.Remove(cg)
		}
		if mounted {
			if err := UnmountNetPrio(mp); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	for _, cg := range cgs {
		if err := os.Mkdir(cg, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hostDev, peerDev, nsName := base+"h", base+"p", base+"n"
	_, peerIP := veth198(t, hostDev, peerDev, nsName)

	policy := PolicyConfig{Name: PolicyNetPrio, NICBitsPerSec: 80e6, Strict: true}
	s, err := New(Links{UplinkHost: hostDev, UplinkRemote: peerDev, RemoteNetNS: ns.NamedPath(nsName)}, policy, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ms := []Member{{SandboxID: "a", Function: "fa", MemoryMB: 256}, {SandboxID: "b", Function: "fb", MemoryMB: 768}}
	if err := s.Update(ms); err != nil {
		t.Fatal(err)
	}
	plan := s.Plan()
	for i, m := range ms {
		if err := SetIfPrioMap(cgs[i], hostDev, plan.SkbPriority[m.SandboxID]); err != nil {
			t.Fatal(err)
		}
		got, err := IfPrioMap(cgs[i])
		if err != nil || got[hostDev] != plan.SkbPriority[m.SandboxID] {
			t.Fatalf("ifpriomap of %s: %v %v", cgs[i], got, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	servers, err := startIperfServers(ctx, "iperf3", nsName, peerIP, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer servers.stop()
	var procs []*proc
	for i, cg := range cgs {
		// Join the cgroup before iperf3 creates its sockets (net_prio tags
		// sockets at creation).
		script := fmt.Sprintf(`echo $$ > %s/cgroup.procs && exec iperf3 -c %s -p %d -t 3 -O 1 -J`, cg, peerIP, FirstIperfPort+i)
		p, err := startIn(ctx, "", "/bin/sh", "-c", script)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for i, p := range procs {
		if err := <-p.done; err != nil {
			t.Fatalf("client %d: %v %s", i, err, p.stderr.String())
		}
		var r iperfResult
		if err := json.Unmarshal(p.stdout.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		c, _ := plan.Upload.MemberClass(ms[i].SandboxID)
		want := GoodputFactor * float64(c.RateBitsPerSec)
		got := r.End.SumReceived.BitsPerSecond
		t.Logf("cgroup %d → class %s rate %s: goodput %s", i, FormatHandle(c.ClassID), FormatBits(float64(c.RateBitsPerSec)), FormatBits(got))
		if got < 0.8*want || got > 1.1*want {
			t.Errorf("cgroup %d: goodput %s, want within [0.8, 1.1] × %s", i, FormatBits(got), FormatBits(want))
		}
	}
}

// veth198 creates a veth pair from the host netns into a new netns with a
// random /30 from 198.18.0.0/15 (the benchmarking range) and removes it in
// t.Cleanup.
func veth198(t *testing.T, hostDev, peerDev, nsName string) (netip.Addr, netip.Addr) {
	t.Helper()
	if _, err := fns.CreateNamed(nsName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fns.DeleteNamed(nsName) })
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostDev, TxQLen: defaultTxQueueLen}, PeerName: peerDev, PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostDev); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	n := rand.IntN(1 << 15) // 198.18.0.0/15 holds 2^15 /30s
	a := netip.AddrFrom4([4]byte{198, 18 + byte(n>>14), byte(n >> 6), byte(n&63) << 2})
	hostIP, peerIP := a.Next(), a.Next().Next()
	host, _ := netlink.LinkByName(hostDev)
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: netipToIPNet(netip.PrefixFrom(hostIP, 30))}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		t.Fatal(err)
	}
	ph, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	peer, err := ph.LinkByName(peerDev)
	if err != nil {
		t.Fatal(err)
	}
	if err := ph.AddrAdd(peer, &netlink.Addr{IPNet: netipToIPNet(netip.PrefixFrom(peerIP, 30))}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{peerDev, "lo"} {
		if err := setUp(ph, l); err != nil {
			t.Fatal(err)
		}
	}
	return hostIP, peerIP
}

// startSleeper starts a process to stand for a sandbox's init; stopped at cleanup by pid.
func startSleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// netPrioCgroupOf is pid's cgroup in the net_prio hierarchy, from /proc/PID/cgroup.
func netPrioCgroupOf(t *testing.T, pid int) string {
	t.Helper()
	paths, err := cgroup1.ParseCgroupFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := paths["net_prio"]
	if !ok {
		t.Fatalf("pid %d in no net_prio cgroup: %v", pid, paths)
	}
	return p
}

func openNetPrioGroups(t *testing.T, prefix string) *NetPrioGroups {
	t.Helper()
	g, err := OpenNetPrioGroups(prefix, slog.New(slog.DiscardHandler))
	if errors.Is(err, ErrNetPrioUnavailable) {
		t.Skipf("net_prio unusable here: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// TestReapNetPrioGroupsAfterCrash: `faaslab cleanup` removes the net_prio cgroups of a
// daemon in network mode shared that died without closing them, and frees the sandbox
// process still in one.
func TestReapNetPrioGroupsAfterCrash(t *testing.T) {
	requireRoot(t)
	prefix := "faaslabt" + newTag()
	g := openNetPrioGroups(t, prefix)
	pid := startSleeper(t)
	cg, err := g.Add("faaslabsb1", pid)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := netPrioCgroupOf(t, pid), "/"+prefix+"/faaslabsb1"; got != want {
		t.Fatalf("sandbox in net_prio cgroup %q, want %q", got, want)
	}
	// The daemon crashes here: nothing closes g.
	if err := ReapNetPrioGroups(prefix, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{cg, g.Root()} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after cleanup (stat: %v)", dir, err)
		}
	}
	if got := netPrioCgroupOf(t, pid); got != "/" {
		t.Errorf("sandbox process left in net_prio cgroup %q, want the root", got)
	}
}

// TestNetPrioMountOutlivesOneDaemon: a faaslab mount of net_prio that two daemons use
// stays while the second still has cgroups in it, and goes with the last.
func TestNetPrioMountOutlivesOneDaemon(t *testing.T) {
	requireRoot(t)
	tag := newTag()
	first := openNetPrioGroups(t, "faaslabt"+tag+"a")
	second := openNetPrioGroups(t, "faaslabt"+tag+"b")
	if first.mountDir == "" {
		t.Skipf("net_prio is mounted at %s by someone else: no faaslab mount to keep or remove", first.hier)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if got := detectNetPrio().MountPoint; got != first.mountDir {
		t.Fatalf("net_prio mount %q after the first daemon closed, want %q kept for the second", got, first.mountDir)
	}
	pid := startSleeper(t)
	if _, err := second.Add("faaslabsb1", pid); err != nil {
		t.Fatalf("second daemon after the first closed: %v", err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	// Tests of other packages may run mode-shared daemons meanwhile: then the mount stays for them.
	if got := detectNetPrio().MountPoint; got == second.mountDir {
		if others := childCgroups(got); len(others) == 0 {
			t.Errorf("net_prio still mounted at %s after the last daemon closed, with no cgroups in it", got)
		}
	}
}
