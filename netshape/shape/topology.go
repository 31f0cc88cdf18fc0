package shape

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/faaslab/faaslab/netshape/ns"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Names inside the throwaway namespaces of a test topology. They are private
// to those namespaces, so only the netns names (global, under /run/netns)
// carry the per-run tag.
const (
	topoBridge       = "faaslabbr0"
	topoUplinkHost   = "faaslabup0"
	topoUplinkRemote = "faaslabup1"
	topoSandboxEth   = "faaslabe0"
)

// topoSubnet is used only inside the throwaway namespaces (never routed in
// the host netns), so it cannot clash with anything on the machine.
var topoSubnet = netip.MustParsePrefix("10.77.0.0/24")

// topology is a miniature faaslab host in throwaway namespaces: a "host"
// netns with a bridge, an uplink veth to a "remote" netns, and N sandbox
// netns each attached to the bridge by a veth. It stands in for the netshape
// package's real topology in benchmarks and tests.
type topology struct {
	tag       string
	hostNS    string // netns names
	remoteNS  string
	sandboxNS []string
	remoteIP  netip.Addr
	sandboxIP []netip.Addr
}

// newTag returns a random 4-hex-char tag for unique names.
func newTag() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newTopology builds the topology with n sandboxes. Everything it made is
// removed again when it fails.
func newTopology(tag string, n int) (t *topology, err error) {
	if n < 1 || n > 200 {
		return nil, fmt.Errorf("topology needs 1..200 sandboxes, got %d", n)
	}
	base := "faaslab" + tag
	t = &topology{tag: tag, hostNS: base + "h", remoteNS: base + "r", remoteIP: netip.AddrFrom4([4]byte{10, 77, 0, 254})}
	for i := range n {
		t.sandboxNS = append(t.sandboxNS, fmt.Sprintf("%ss%d", base, i))
		t.sandboxIP = append(t.sandboxIP, netip.AddrFrom4([4]byte{10, 77, 0, byte(10 + i)}))
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
		}
	}()
	for _, name := range append([]string{t.hostNS, t.remoteNS}, t.sandboxNS...) {
		if _, err := ns.CreateNamed(name); err != nil {
			return t, err
		}
	}
	hh, err := handleAt(ns.NamedPath(t.hostNS))
	if err != nil {
		return t, err
	}
	defer hh.Close()
	// Bridged frames would otherwise run through iptables (br_netfilter is
	// loaded here); in our own netns that is pure overhead. Best effort.
	_ = inNetNS(ns.NamedPath(t.hostNS), func() error {
		return os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte("0"), 0o644)
	})
	// `ip link add faaslabbr0 type bridge; ip link set faaslabbr0 up`
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: topoBridge}}
	if err := hh.LinkAdd(br); err != nil {
		return t, fmt.Errorf("create bridge: %w", err)
	}
	if err := setUp(hh, topoBridge); err != nil {
		return t, err
	}
	brLink, err := hh.LinkByName(topoBridge)
	if err != nil {
		return t, fmt.Errorf("find bridge: %w", err)
	}
	if err := t.attach(hh, brLink.Attrs().Index, topoUplinkHost, t.remoteNS, topoUplinkRemote, t.remoteIP); err != nil {
		return t, err
	}
	for i, name := range t.sandboxNS {
		if err := t.attach(hh, brLink.Attrs().Index, fmt.Sprintf("faaslabv%d", i), name, topoSandboxEth, t.sandboxIP[i]); err != nil {
			return t, err
		}
	}
	return t, nil
}

// attach creates a veth whose host end is a bridge port and whose peer sits
// in netns peerNS with address ip/24:
// `ip link add H txqueuelen 1000 master faaslabbr0 type veth peer name P netns NS;
// ip -n NS addr add ip/24 dev P; ip -n NS link set P up; ip -n NS link set lo up`.
func (t *topology) attach(hh *netlink.Handle, bridgeIndex int, hostEnd, peerNS, peerName string, ip netip.Addr) error {
	peerNSH, err := netns.GetFromName(peerNS)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", peerNS, err)
	}
	defer peerNSH.Close()
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: hostEnd, TxQLen: defaultTxQueueLen, MasterIndex: bridgeIndex},
		PeerName:  peerName, PeerNamespace: netlink.NsFd(peerNSH), PeerTxQLen: defaultTxQueueLen,
	}
	if err := hh.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s → %s: %w", hostEnd, peerNS, err)
	}
	if err := setUp(hh, hostEnd); err != nil {
		return err
	}
	ph, err := netlink.NewHandleAt(peerNSH)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", peerNS, err)
	}
	defer ph.Close()
	peer, err := ph.LinkByName(peerName)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", peerName, peerNS, err)
	}
	addr := &netlink.Addr{IPNet: netipToIPNet(netip.PrefixFrom(ip, topoSubnet.Bits()))}
	if err := ph.AddrAdd(peer, addr); err != nil {
		return fmt.Errorf("address %v on %s in %s: %w", ip, peerName, peerNS, err)
	}
	if err := setUp(ph, peerName); err != nil {
		return err
	}
	return setUp(ph, "lo")
}

func setUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	return nil
}

// links returns what a Shaper needs for this topology.
func (t *topology) links() Links {
	return Links{UplinkHost: topoUplinkHost, UplinkRemote: topoUplinkRemote, RemoteNetNS: ns.NamedPath(t.remoteNS), HostNetNS: ns.NamedPath(t.hostNS)}
}

// Close deletes every namespace of the topology (their links go with them).
// Processes started inside must be gone first or the netns lingers.
func (t *topology) Close() error {
	var errs []error
	for _, name := range append(append([]string{}, t.sandboxNS...), t.remoteNS, t.hostNS) {
		if _, err := os.Stat(ns.NamedPath(name)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := ns.DeleteNamed(name); err != nil {
			errs = append(errs, fmt.Errorf("delete netns %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// removeTaggedNetNS deletes leftover netns named faaslab<tag>* (after a
// crash). The tag scopes it: it never touches other runs' namespaces.
func removeTaggedNetNS(tag string) error {
	if len(tag) < 4 {
		return fmt.Errorf("refusing to remove namespaces for a tag shorter than 4 characters: %q", tag)
	}
	ents, err := os.ReadDir(ns.Dir)
	if err != nil {
		return nil
	}
	var errs []error
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "faaslab"+tag) {
			errs = append(errs, ns.DeleteNamed(e.Name()))
		}
	}
	return errors.Join(errs...)
}

func netipToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
