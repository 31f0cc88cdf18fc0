package netshape

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/netshape/ns"
)

// attachTestNS attaches a throw-away netns standing in for sandbox n.
func attachTestNS(t *testing.T, h *Host, cfg Config, n int) (string, Attachment) {
	t.Helper()
	path := newTestNetNS(t, cfg, n)
	att, err := h.Attach(context.Background(), Endpoint{SandboxID: "faaslab-sb-" + strconv.Itoa(n), Function: "fn", MemoryMB: 128, NetNSPath: path})
	if err != nil {
		t.Fatalf("attach %d: %v", n, err)
	}
	return path, att
}

// canConnect reports whether a TCP connection from the netns at path to addr succeeds
// within 2 s (a dropped SYN or an unanswered ARP both count as no).
func canConnect(path, addr string) bool {
	err := ns.Do(path, func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	return err == nil
}

// listenAccepting serves TCP on addr, accepting and closing, until the test ends.
func listenAccepting(t *testing.T, listen func() (net.Listener, error)) net.Listener {
	t.Helper()
	l, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l
}

// One sandbox must not open a TCP connection to another over the bridge (docs/security.md,
// attack 3), while both still reach the gateway and the remote side.
func TestSandboxesCannotReachEachOther(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	h := newTestHost(t, cfg)
	ns1, att1 := attachTestNS(t, h, cfg, 1)
	ns2, _ := attachTestNS(t, h, cfg, 2)
	victim := listenAccepting(t, func() (l net.Listener, err error) {
		err = ns.Do(ns1, func() error { l, err = net.Listen("tcp", netip.AddrPortFrom(att1.IP, 0).String()); return err })
		return l, err
	})
	if canConnect(ns2, victim.Addr().String()) {
		t.Errorf("sandbox 2 connected to sandbox 1 at %s over the bridge", victim.Addr())
	}
	remote := listenAccepting(t, func() (net.Listener, error) {
		return h.ListenRemote("tcp", netip.AddrPortFrom(h.RemoteAddr(), 0).String())
	})
	if !canConnect(ns2, remote.Addr().String()) {
		t.Errorf("sandbox 2 cannot reach the remote side at %s", remote.Addr())
	}
}

// A host service listening on every address must not answer a sandbox at the gateway
// address (attack 4).
func TestHostServiceNotReachableFromSandbox(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables: the host's INPUT rules keep sandboxes off its services")
	}
	cfg := testConfig(t)
	// The allowed port stands for the Runtime API's.
	allowed := listenAccepting(t, func() (net.Listener, error) { return net.Listen("tcp", "0.0.0.0:0") })
	cfg.HostPorts = []int{allowed.Addr().(*net.TCPAddr).Port}
	h := newTestHost(t, cfg)
	ns, _ := attachTestNS(t, h, cfg, 1)
	svc := listenAccepting(t, func() (net.Listener, error) { return net.Listen("tcp", "0.0.0.0:0") })
	port := svc.Addr().(*net.TCPAddr).Port
	gw := netip.AddrPortFrom(h.Gateway(), uint16(port)).String()
	if canConnect(ns, gw) {
		t.Errorf("a sandbox reached a host service on 0.0.0.0:%d through the gateway %s", port, gw)
	}
	if gw := netip.AddrPortFrom(h.Gateway(), uint16(cfg.HostPorts[0])).String(); !canConnect(ns, gw) {
		t.Errorf("the allowed host port %s (the Runtime API's) is not reachable", gw)
	}
	rules, err := HostRules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(taggedRules("-A "+strings.Join(rules, "\n-A "), cfg.iptablesComment())); n < 4 {
		t.Errorf("HostRules lists %d rules of bridge %s, want the INPUT and FORWARD ones: %q", n, cfg.Bridge, rules)
	}
}

// With AllowSandboxToSandbox the ports stay unisolated (function-to-function experiments).
func TestAllowSandboxToSandbox(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	cfg.AllowSandboxToSandbox = true
	h := newTestHost(t, cfg)
	ns1, att1 := attachTestNS(t, h, cfg, 1)
	ns2, _ := attachTestNS(t, h, cfg, 2)
	peer := listenAccepting(t, func() (l net.Listener, err error) {
		err = ns.Do(ns1, func() error { l, err = net.Listen("tcp", netip.AddrPortFrom(att1.IP, 0).String()); return err })
		return l, err
	})
	if !canConnect(ns2, peer.Addr().String()) {
		t.Errorf("with AllowSandboxToSandbox sandbox 2 cannot reach sandbox 1 at %s", peer.Addr())
	}
}
