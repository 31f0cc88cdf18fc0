package netshape

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/netshape/ns"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/faaslab/faaslab/internal/metricstest"
)

// requireRoot skips tests that create kernel network objects.
func requireRoot(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t, "creates bridges, veths and network namespaces")
}

// testConfig is a Config with a unique prefix and a /24 not on this host, reaped in
// Cleanup even if the test fails.
func testConfig(t testing.TB) Config {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	name := "faaslabt" + hex.EncodeToString(b)[:3]
	cfg := Config{Name: name, Subnet: freeSubnet(t)}.WithDefaults()
	t.Cleanup(func() {
		if err := Reap(context.Background(), cfg); err != nil {
			t.Errorf("cleanup reap: %v", err)
		}
	})
	return cfg
}

// freeSubnet picks a random 10.240-254.x.0/24 that no host address overlaps.
func freeSubnet(t testing.TB) netip.Prefix {
	t.Helper()
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		b := make([]byte, 2)
		rand.Read(b)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 240 + b[0]%15, b[1], 0}), 24)
		free := true
		for _, a := range addrs {
			if q, ok := prefixOf(a.IPNet); ok && q.Overlaps(p) {
				free = false
			}
		}
		if free {
			return p
		}
	}
	t.Fatal("no free test subnet")
	return netip.Prefix{}
}

func newTestHost(t testing.TB, cfg Config) *Host {
	t.Helper()
	h, err := NewHost(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// newTestNetNS makes a throw-away named netns standing in for a sandbox's.
func newTestNetNS(t testing.TB, cfg Config, n int) string {
	t.Helper()
	name := fmt.Sprintf("%s-sb%d", cfg.Name, n)
	path, err := ns.CreateNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns: %v", err)
		}
	})
	return path
}

// linksIn lists the links of the netns at path.
func linksIn(t *testing.T, path string) map[string]netlink.Link {
	t.Helper()
	nsh, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]netlink.Link{}
	for _, l := range links {
		out[l.Attrs().Name] = l
	}
	return out
}

// leftovers lists every kernel object of cfg still present.
func leftovers(t *testing.T, cfg Config) []string {
	t.Helper()
	var out []string
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, cfg.Name) {
			out = append(out, "link "+l.Attrs().Name)
		}
	}
	if _, err := os.Stat(ns.NamedPath(cfg.RemoteNetNS)); err == nil {
		out = append(out, "netns "+cfg.RemoteNetNS)
	}
	if bin, err := exec.LookPath("iptables"); err == nil {
		rules, err := runIPTables(context.Background(), bin, "-S", "FORWARD")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range taggedRules(rules, cfg.iptablesComment()) {
			out = append(out, "iptables "+strings.Join(r, " "))
		}
	}
	return out
}

func TestHostTopology(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	h := newTestHost(t, cfg)

	br, err := netlink.LinkByName(cfg.Bridge)
	if err != nil {
		t.Fatalf("bridge: %v", err)
	}
	if br.Type() != "bridge" || br.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("bridge %s: type %s flags %v, want an up bridge", cfg.Bridge, br.Type(), br.Attrs().Flags)
	}
	assertAddr(t, br, h.Gateway(), cfg.Subnet.Bits(), "")
	hostEnd, remoteEnd, remotePath := h.UplinkLinks()
	up, err := netlink.LinkByName(hostEnd)
	if err != nil {
		t.Fatalf("uplink host end: %v", err)
	}
	if up.Attrs().MasterIndex != br.Attrs().Index || up.Attrs().TxQLen != txQueueLen || up.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("uplink %s: master %d (bridge %d) txqlen %d flags %v", hostEnd, up.Attrs().MasterIndex,
			br.Attrs().Index, up.Attrs().TxQLen, up.Attrs().Flags)
	}
	remote := linksIn(t, remotePath)
	rm, ok := remote[remoteEnd]
	if !ok {
		t.Fatalf("remote netns has %v, want %s", keys(remote), remoteEnd)
	}
	if rm.Attrs().TxQLen != txQueueLen || rm.Attrs().Flags&net.FlagUp == 0 || remote["lo"].Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("remote end txqlen %d flags %v, lo flags %v", rm.Attrs().TxQLen, rm.Attrs().Flags, remote["lo"].Attrs().Flags)
	}
	assertAddr(t, rm, h.RemoteAddr(), cfg.Subnet.Bits(), remotePath)
	if _, err := exec.LookPath("iptables"); err == nil {
		if got := leftovers(t, cfg); !containsPrefix(got, "iptables -i "+cfg.Bridge) || !containsPrefix(got, "iptables -o "+cfg.Bridge) {
			t.Fatalf("iptables FORWARD rules for %s missing: %v", cfg.Bridge, got)
		}
	}
	// The host reaches the remote through the bridge.
	echoOnce(t, func() (net.Listener, error) {
		return h.ListenRemote("tcp", netip.AddrPortFrom(h.RemoteAddr(), 0).String())
	},
		func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }, 1000)

	if err := h.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := leftovers(t, cfg); len(got) > 0 {
		t.Fatalf("after Close: %v", got)
	}
	if _, err := h.Sample(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sample after Close = %v, want ErrClosed", err)
	}
	if _, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-x", NetNSPath: "/proc/self/ns/net"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Attach after Close = %v, want ErrClosed", err)
	}
}

func TestAttachTrafficSampleDetach(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	cfg.HostPorts = []int{freeTCPPort(t)} // the Runtime API's, reached below
	h := newTestHost(t, cfg)
	nsPath := newTestNetNS(t, cfg, 0)
	att, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-sb-1", Function: "fn1", MemoryMB: 128, NetNSPath: nsPath})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if !cfg.Subnet.Contains(att.IP) || att.IP == h.Gateway() || att.IP == h.RemoteAddr() || att.Gateway != h.Gateway() {
		t.Fatalf("attachment %+v: want an address of %s other than gateway and remote", att, cfg.Subnet)
	}
	// Host end: on the bridge, up.
	hv, err := netlink.LinkByName(att.HostVeth)
	if err != nil {
		t.Fatalf("host veth: %v", err)
	}
	br, _ := netlink.LinkByName(cfg.Bridge)
	if hv.Attrs().MasterIndex != br.Attrs().Index || hv.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("host veth master %d (bridge %d) flags %v", hv.Attrs().MasterIndex, br.Attrs().Index, hv.Attrs().Flags)
	}
	// Sandbox side: eth0 up with the address, lo up, default route via the gateway.
	in := linksIn(t, nsPath)
	eth0, ok := in[SandboxIfName]
	if !ok || eth0.Attrs().Flags&net.FlagUp == 0 || in["lo"].Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("sandbox links %v: want eth0 and lo up", keys(in))
	}
	assertAddr(t, eth0, att.IP, cfg.Subnet.Bits(), nsPath)
	assertDefaultRoute(t, nsPath, att.Gateway)
	// Stable MACs keep ARP caches right when addresses are reused and ports change.
	if got := eth0.Attrs().HardwareAddr.String(); got != macFor(att.IP).String() {
		t.Fatalf("eth0 MAC %s, want %s", got, macFor(att.IP))
	}
	if br, _ := netlink.LinkByName(cfg.Bridge); br.Attrs().HardwareAddr.String() != macFor(h.Gateway()).String() {
		t.Fatalf("bridge MAC %s changed with a new port, want %s", br.Attrs().HardwareAddr, macFor(h.Gateway()))
	}

	// Sandbox -> remote, through the bridge and the uplink.
	const n = 256 << 10
	echoOnce(t, func() (net.Listener, error) {
		return h.ListenRemote("tcp", netip.AddrPortFrom(h.RemoteAddr(), 0).String())
	},
		dialFrom(nsPath), n)
	// Sandbox -> gateway (a listener in the host netns on the bridge address).
	echoOnce(t, func() (net.Listener, error) {
		return net.Listen("tcp", netip.AddrPortFrom(h.Gateway(), uint16(cfg.HostPorts[0])).String())
	},
		dialFrom(nsPath), 1000)

	s, err := h.Sample()
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	st, ok := s.Sandboxes["faaslab-sb-1"]
	if !ok || st.Function != "fn1" || st.HostVeth != att.HostVeth {
		t.Fatalf("sample %+v: want sandbox faaslab-sb-1 of fn1", s)
	}
	if st.UploadBytes < n || st.DownloadBytes < n || st.UploadPackets == 0 || st.DownloadPackets == 0 {
		t.Fatalf("sandbox counters %+v: want >= %d bytes each way", st.Traffic, n)
	}
	if s.Uplink.UploadBytes < n || s.Uplink.DownloadBytes < n {
		t.Fatalf("uplink counters %+v: want >= %d bytes each way", s.Uplink, n)
	}
	if s.Time.IsZero() {
		t.Fatal("sample has no time")
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewMetrics(h))
	before := gatherValue(t, reg, "faaslab_sandbox_network_transmit_bytes_total", "fn1")
	if before < n {
		t.Fatalf("faaslab_sandbox_network_transmit_bytes_total{fn1} = %v, want >= %d", before, n)
	}
	if v := gatherValue(t, reg, "faaslab_uplink_receive_bytes_total", ""); v < n {
		t.Fatalf("faaslab_uplink_receive_bytes_total = %v, want >= %d", v, n)
	}

	if err := h.Detach(context.Background(), "faaslab-sb-1"); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if _, err := netlink.LinkByName(att.HostVeth); err == nil {
		t.Fatalf("host veth %s still there after Detach", att.HostVeth)
	}
	if _, ok := linksIn(t, nsPath)[SandboxIfName]; ok {
		t.Fatal("eth0 still in the sandbox netns after Detach")
	}
	if after := gatherValue(t, reg, "faaslab_sandbox_network_transmit_bytes_total", "fn1"); after < before {
		t.Fatalf("per-function counter went down after Detach: %v -> %v", before, after)
	}
	if err := h.Detach(context.Background(), "faaslab-sb-1"); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("second Detach = %v, want ErrNotAttached", err)
	}
	if h.alloc.InUse() != 0 {
		t.Fatalf("%d addresses still allocated", h.alloc.InUse())
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := leftovers(t, cfg); len(got) > 0 {
		t.Fatalf("after Close: %v", got)
	}
}

// TestPerFunctionCountersNeverGoDown: a sandbox that dies takes its veth with it before
// Detach can read it; the function's Prometheus counters keep what it sent, through the
// scrape before Detach and after it.
func TestPerFunctionCountersNeverGoDown(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	h := newTestHost(t, cfg)
	nsPath := newTestNetNS(t, cfg, 0)
	att, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-sb-1", Function: "fn1", MemoryMB: 128, NetNSPath: nsPath})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	const n = 256 << 10
	echoOnce(t, func() (net.Listener, error) {
		return h.ListenRemote("tcp", netip.AddrPortFrom(h.RemoteAddr(), 0).String())
	}, dialFrom(nsPath), n)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewMetrics(h))
	const metric = "faaslab_sandbox_network_transmit_bytes_total"
	sent := gatherValue(t, reg, metric, "fn1")
	if sent < n {
		t.Fatalf("%s{fn1} = %v, want >= %d", metric, sent, n)
	}
	// The sandbox dies: its netns goes, and the veth pair with it.
	if err := netlink.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: att.HostVeth}}); err != nil {
		t.Fatal(err)
	}
	if got := gatherValue(t, reg, metric, "fn1"); got < sent {
		t.Errorf("%s{fn1} went down when the veth went: %v -> %v", metric, sent, got)
	}
	if err := h.Detach(context.Background(), "faaslab-sb-1"); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if got := gatherValue(t, reg, metric, "fn1"); got < sent {
		t.Errorf("%s{fn1} went down after Detach of a sandbox whose veth was gone: %v -> %v", metric, sent, got)
	}
	// The function is deleted: its series end.
	h.ForgetFunction("fn1")
	if n := promtest.CollectAndCount(NewMetrics(h), metric); n != 0 {
		t.Errorf("%d %s series after ForgetFunction(fn1), want 0", n, metric)
	}
}

// fakeShaper records Update calls and can fail on demand.
type fakeShaper struct {
	mu      sync.Mutex
	updates [][]Member
	fail    error
	closed  bool
}

func (f *fakeShaper) Update(m []Member) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, m)
	return f.fail
}

func (f *fakeShaper) Close() error { f.mu.Lock(); f.closed = true; f.mu.Unlock(); return nil }

func (f *fakeShaper) last() []Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updates[len(f.updates)-1]
}

func TestShaperHookAndRollback(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	fs := &fakeShaper{}
	cfg.Shaper = fs
	h := newTestHost(t, cfg)
	ns0, ns1 := newTestNetNS(t, cfg, 0), newTestNetNS(t, cfg, 1)
	a0, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-a", Function: "f", MemoryMB: 256, NetNSPath: ns0})
	if err != nil {
		t.Fatal(err)
	}
	if got := fs.last(); len(got) != 1 || got[0].IP != a0.IP || got[0].MemoryMB != 256 || got[0].HostVeth != a0.HostVeth {
		t.Fatalf("shaper got %+v after attach", got)
	}
	if _, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-a", NetNSPath: ns1}); !errors.Is(err, ErrAlreadyAttached) {
		t.Fatalf("duplicate Attach = %v, want ErrAlreadyAttached", err)
	}
	// A failing shaper makes Attach fail and leaves nothing of that sandbox.
	fs.fail = errors.New("boom")
	if _, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-b", Function: "f", NetNSPath: ns1}); err == nil {
		t.Fatal("Attach with a failing shaper succeeded")
	}
	fs.fail = nil
	if _, err := netlink.LinkByName(cfg.vethName("faaslab-b", 0)); err == nil {
		t.Fatal("veth of the failed attach left behind")
	}
	if _, ok := linksIn(t, ns1)[SandboxIfName]; ok {
		t.Fatal("eth0 of the failed attach left in its netns")
	}
	if got := h.Members(); len(got) != 1 || h.alloc.InUse() != 1 {
		t.Fatalf("members %+v, %d addresses in use: want only faaslab-a", got, h.alloc.InUse())
	}
	// A bad netns path fails cleanly too.
	if _, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-c", NetNSPath: "/nonexistent"}); err == nil {
		t.Fatal("Attach into a missing netns succeeded")
	}
	if h.alloc.InUse() != 1 {
		t.Fatalf("%d addresses in use after failed attach, want 1", h.alloc.InUse())
	}
	if err := h.Detach(context.Background(), "faaslab-a"); err != nil {
		t.Fatal(err)
	}
	if got := fs.last(); len(got) != 0 {
		t.Fatalf("shaper got %+v after the last detach, want none", got)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !fs.closed {
		t.Fatal("shaper not closed by Close")
	}
}

func TestConcurrentAttachDetach(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	h := newTestHost(t, cfg)
	const n = 8
	paths := make([]string, n)
	for i := range paths {
		paths[i] = newTestNetNS(t, cfg, i)
	}
	ips := make([]netip.Addr, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			a, err := h.Attach(context.Background(), Endpoint{SandboxID: fmt.Sprintf("faaslab-c%d", i), Function: "f", NetNSPath: paths[i]})
			ips[i] = a.IP
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		if seen[ip] {
			t.Fatalf("address %s handed out twice: %v", ip, ips)
		}
		seen[ip] = true
	}
	// Concurrently attached sandboxes reach the remote side (not each other: their
	// bridge ports are isolated, see TestSandboxesCannotReachEachOther).
	echoOnce(t, func() (net.Listener, error) {
		return h.ListenRemote("tcp", netip.AddrPortFrom(h.RemoteAddr(), 0).String())
	}, dialFrom(paths[n-1]), 1000)
	for i := range n {
		wg.Go(func() {
			if err := h.Detach(context.Background(), fmt.Sprintf("faaslab-c%d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(h.Members()) != 0 || h.alloc.InUse() != 0 {
		t.Fatalf("after detaching all: %d members, %d addresses", len(h.Members()), h.alloc.InUse())
	}
}

func TestReapAfterCrash(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	h, err := NewHost(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := newTestNetNS(t, cfg, 0)
	if _, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-crash", NetNSPath: ns}); err != nil {
		t.Fatal(err)
	}
	// A remote child keeps the remote netns alive, as an iperf3 server would.
	cmd := h.RemoteCommand(context.Background(), "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	h.nl.Close() // the "crashed" daemon: no Close
	if got := leftovers(t, cfg); len(got) < 3 {
		t.Fatalf("before reap only %v: the test did not create what it reaps", got)
	}
	if err := Reap(context.Background(), cfg); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if got := leftovers(t, cfg); len(got) > 0 {
		t.Fatalf("after Reap: %v", got)
	}
	if _, ok := linksIn(t, ns)[SandboxIfName]; ok {
		t.Fatal("sandbox eth0 survived Reap")
	}
	// And a new Host with the same config starts cleanly.
	h2 := newTestHost(t, cfg)
	if err := h2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestReapIsScoped(t *testing.T) {
	requireRoot(t)
	mine, other := testConfig(t), testConfig(t)
	h := newTestHost(t, other)
	if err := Reap(context.Background(), mine); err != nil {
		t.Fatal(err)
	}
	if got := leftovers(t, other); len(got) < 3 {
		t.Fatalf("reaping %s removed objects of %s: left %v", mine.Name, other.Name, got)
	}
	_ = h
}

func TestRemoteCommandRunsInRemote(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip binary (iproute2)")
	}
	cfg := testConfig(t)
	h := newTestHost(t, cfg)
	out, err := h.RemoteCommand(context.Background(), "ip", "-o", "-4", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("remote command: %v: %s", err, out)
	}
	if !strings.Contains(string(out), h.RemoteAddr().String()+"/") || strings.Contains(string(out), h.Gateway().String()+"/") {
		t.Fatalf("ip addr in the remote netns:\n%s\nwant %s and not the gateway", out, h.RemoteAddr())
	}
}

func TestDoRestoresNamespace(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	path := newTestNetNS(t, cfg, 0)
	before, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var inside []net.Interface
	if err := ns.Do(path, func() error { inside, err = net.Interfaces(); return err }); err != nil {
		t.Fatal(err)
	}
	if len(inside) != 1 || inside[0].Name != "lo" {
		t.Fatalf("interfaces inside a new netns: %v, want only lo", inside)
	}
	// Many calls: no thread may come back to the pool in the sandbox netns.
	for range 50 {
		if err := ns.Do(path, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	after, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("host interfaces %d before Do, %d after", len(before), len(after))
	}
	wantErr := errors.New("from fn")
	if err := ns.Do(path, func() error { return wantErr }); !errors.Is(err, wantErr) {
		t.Fatalf("Do returned %v, want fn's error", err)
	}
	if err := ns.Do("/nonexistent", func() error { return nil }); err == nil {
		t.Fatal("Do on a missing netns succeeded")
	}
	if _, err := ns.CreateNamed(cfg.Name + "-sb0"); !errors.Is(err, ns.ErrExists) {
		t.Fatalf("creating an existing netns: %v, want ns.ErrExists", err)
	}
}

// freeTCPPort is a TCP port nothing listens on right now.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dialFrom dials from inside the netns at path.
func dialFrom(path string) func(string) (net.Conn, error) {
	return func(addr string) (c net.Conn, err error) {
		err = ns.Do(path, func() error { c, err = net.DialTimeout("tcp", addr, 5*time.Second); return err })
		return c, err
	}
}

// echoOnce listens, dials, sends n bytes and reads them echoed back.
func echoOnce(t *testing.T, listen func() (net.Listener, error), dial func(string) (net.Conn, error), n int) {
	t.Helper()
	l, err := listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := dial(l.Addr().String())
	if err != nil {
		t.Fatalf("dial %s: %v", l.Addr(), err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	msg := make([]byte, n)
	rand.Read(msg)
	go c.Write(msg)
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo from %s: %v", l.Addr(), err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echoed bytes differ")
	}
}

func assertAddr(t *testing.T, link netlink.Link, ip netip.Addr, bits int, nsPath string) {
	t.Helper()
	check := func() error {
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if ones, _ := a.Mask.Size(); a.IP.String() == ip.String() && ones == bits {
				return nil
			}
		}
		return fmt.Errorf("%s has %v, want %s/%d", link.Attrs().Name, addrs, ip, bits)
	}
	var err error
	if nsPath == "" {
		err = check()
	} else {
		err = ns.Do(nsPath, check)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func assertDefaultRoute(t *testing.T, nsPath string, gw netip.Addr) {
	t.Helper()
	err := ns.Do(nsPath, func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw.String() == gw.String() {
				return nil
			}
		}
		return fmt.Errorf("routes %v: no default via %s", routes, gw)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func gatherValue(t *testing.T, reg *prometheus.Registry, name, function string) float64 {
	t.Helper()
	labels := prometheus.Labels{}
	if function != "" {
		labels["function"] = function
	}
	return metricstest.Value(t, reg, name, labels)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestMissingIPTablesOnlyWarns(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	cfg.IPTables = "faaslab-no-such-iptables"
	h := newTestHost(t, cfg)
	if h.iptables {
		t.Fatal("host claims to have added iptables rules without an iptables binary")
	}
	if got := leftovers(t, cfg); containsPrefix(got, "iptables") {
		t.Fatalf("rules added: %v", got)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckIPTables(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables not installed")
	}
	desc, err := CheckIPTables()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(desc, "iptables v") || !strings.Contains(desc, "FORWARD policy ") {
		t.Fatalf("CheckIPTables = %q, want version and FORWARD policy", desc)
	}
	t.Log(desc)
}
