package netshape

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/faaslab/faaslab/netshape/ns"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host errors.
var (
	// ErrAlreadyAttached: Attach of a sandbox ID that is attached (or attaching).
	ErrAlreadyAttached = errors.New("sandbox already attached")
	// ErrNotAttached: Detach of a sandbox ID that is not attached.
	ErrNotAttached = errors.New("sandbox not attached")
	// ErrClosed: the Host was closed.
	ErrClosed = errors.New("netshape host closed")
	// ErrSubnetInUse: an address of the host overlaps Config.Subnet.
	ErrSubnetInUse = errors.New("subnet overlaps an address already on this host")
)

// SandboxIfName is the name of the sandbox's interface inside its netns.
const SandboxIfName = "eth0"

// loopbackIndex is the ifindex of lo in every network namespace (LOOPBACK_IFINDEX).
const loopbackIndex = 1

// Endpoint is what Attach needs to know about a sandbox.
type Endpoint struct {
	SandboxID string
	Function  string
	MemoryMB  int
	// NetNSPath is a path whose open fd is the sandbox's netns (e.g. /proc/PID/ns/net).
	NetNSPath string
}

// Attachment is how a sandbox was attached.
type Attachment struct {
	IP       netip.Addr // the sandbox's eth0 address (prefix length = Config.Subnet's)
	HostVeth string     // host end of its veth, a port of the bridge
	Gateway  netip.Addr // the bridge's address and the sandbox's default route
}

// Host is the host network of one daemon: bridge, uplink, remote netns and the attached
// sandboxes. Its methods are safe for concurrent use.
type Host struct {
	cfg         Config
	log         *slog.Logger
	nl          *netlink.Handle // host netns; its socket is locked per request
	bridgeIndex int
	iptables    bool // our FORWARD rules were added

	mu      sync.Mutex
	alloc   *allocator
	members map[string]*member // by sandbox ID
	names   map[string]bool    // host veth names taken
	retired map[string]Traffic // per function: final counters of detached sandboxes
	closed  bool
	// inflight counts Attach and Detach calls under way; Close waits for them so that
	// nothing is created after it has torn down.
	inflight sync.WaitGroup

	// shapeMu serialises Shaper calls; the member list is read after taking it so the
	// last Update always sees the latest state.
	shapeMu sync.Mutex
}

type member struct {
	Member
	netnsPath string
	ready     bool // plumbed and visible to the shaper and counters
	// seen is the veth's counters at the last read: they stand in while the veth cannot
	// be read (the sandbox died and took it, a dump was cut short, Detach deleted it), and
	// go to Host.retired when m is released, so that per-function totals never go down.
	seen Traffic
}

// NewHost removes whatever a crashed Host with this Config left behind (Reap), then
// creates the bridge with the gateway address, the remote netns and the uplink veth
// pair joining them, and the iptables FORWARD rules for the bridge. On error nothing
// is left behind. logger may be nil.
func NewHost(ctx context.Context, cfg Config, logger *slog.Logger) (*Host, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := reap(ctx, cfg, logger); err != nil {
		return nil, fmt.Errorf("reap leftovers before start: %w", err)
	}
	alloc, err := newAllocator(cfg.Subnet)
	if err != nil {
		return nil, err
	}
	nlh, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	h := &Host{
		cfg: cfg, log: logger, nl: nlh, alloc: alloc,
		members: map[string]*member{}, names: map[string]bool{}, retired: map[string]Traffic{},
	}
	if err := h.setUp(ctx); err != nil {
		h.tearDown(ctx)
		return nil, err
	}
	logger.Info("host network up", "bridge", cfg.Bridge, "gateway", cfg.GatewayAddr(),
		"remote_netns", cfg.RemoteNetNS, "remote", cfg.RemoteAddr(), "subnet", cfg.Subnet)
	return h, nil
}

func (h *Host) setUp(ctx context.Context) error {
	if err := h.checkSubnetFree(); err != nil {
		return err
	}
	if err := h.createBridge(); err != nil {
		return err
	}
	if err := h.createRemote(); err != nil {
		return err
	}
	added, err := addForwardRules(ctx, h.cfg, h.log)
	h.iptables = added
	if err != nil {
		return err
	}
	added, err = addInputRules(ctx, h.cfg, h.log)
	h.iptables = h.iptables || added
	return err
}

// checkSubnetFree refuses a subnet that overlaps an address already configured on the
// host, which would make routing to the sandboxes ambiguous.
func (h *Host) checkSubnetFree() error {
	addrs, err := h.nl.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if ok && p.Overlaps(h.cfg.Subnet) {
			return fmt.Errorf("%w: %s is on link index %d; choose another subnet", ErrSubnetInUse, p, a.LinkIndex)
		}
	}
	return nil
}

func (h *Host) createBridge() error {
	la := netlink.NewLinkAttrs()
	la.Name = h.cfg.Bridge
	la.MTU = h.cfg.MTU
	// A fixed MAC: otherwise the bridge takes the lowest MAC of its ports, which changes
	// as sandboxes come and go and leaves stale gateway entries in their ARP caches.
	la.HardwareAddr = macFor(h.cfg.GatewayAddr())
	br := &netlink.Bridge{LinkAttrs: la}
	if err := h.nl.LinkAdd(br); err != nil { // ip link add NAME type bridge
		return fmt.Errorf("create bridge %s: %w", la.Name, err)
	}
	h.bridgeIndex = br.Index
	gw := &netlink.Addr{IPNet: ipNet(h.cfg.GatewayAddr(), h.cfg.Subnet.Bits())}
	if err := h.nl.AddrAdd(br, gw); err != nil { // ip addr add GW/BITS dev NAME
		return fmt.Errorf("add gateway address %s to bridge %s: %w", gw.IPNet, la.Name, err)
	}
	if err := h.nl.LinkSetUp(br); err != nil { // ip link set NAME up
		return fmt.Errorf("bring up bridge %s: %w", la.Name, err)
	}
	return nil
}

// createRemote creates the remote netns and the uplink veth pair: host end on the
// bridge, remote end in the remote netns with the remote address.
func (h *Host) createRemote() error {
	path, err := ns.CreateNamed(h.cfg.RemoteNetNS)
	if err != nil {
		return err
	}
	nsh, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open remote netns %s: %w", path, err)
	}
	defer nsh.Close()
	if err := h.addVeth(h.cfg.UplinkHostName(), h.cfg.UplinkRemoteName(), nsh, h.cfg.RemoteAddr()); err != nil {
		return fmt.Errorf("create uplink: %w", err)
	}
	return configurePeer(nsh, h.cfg.UplinkRemoteName(), h.cfg.RemoteAddr(), h.cfg.Subnet.Bits(), netip.Addr{})
}

// addVeth creates a veth pair in one netlink request: the host end hostName up and
// enslaved to the bridge, the peer peerName created (down) directly in the netns peerNS
// (no move, no rename) with MAC macFor(peerIP), both with the MTU and txqueuelen 1000. The netlink library's LinkAdd
// would take three requests (create, look up index, set master), ~0.4 ms more per
// cold start. Equivalent:
//
//	ip link add HOST mtu MTU txqueuelen 1000 master BRIDGE up type veth \
//	    peer name PEER netns NS mtu MTU txqueuelen 1000
func (h *Host) addVeth(hostName, peerName string, peerNS netns.NsHandle, peerIP netip.Addr) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	req.AddData(upIfInfomsg())
	for _, a := range linkAttrs(hostName, h.cfg.MTU) {
		req.AddData(a)
	}
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(h.bridgeIndex))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	peer := info.AddRtAttr(nl.IFLA_INFO_DATA, nil).AddRtAttr(nl.VETH_INFO_PEER, nil)
	// Not up: the kernel (6.18) answers ENOTCONN to a veth peer created up.
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	for _, a := range linkAttrs(peerName, h.cfg.MTU) {
		peer.AddChild(a)
	}
	peer.AddRtAttr(unix.IFLA_ADDRESS, macFor(peerIP))
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(peerNS)))
	req.AddData(info)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("create veth %s (peer %s): %w", hostName, peerName, err)
	}
	return nil
}

// macFor is the MAC of the interface that owns ip: locally administered 02:fa plus the
// IPv4 address (Docker's scheme). A reused address thus keeps its MAC, so the ARP caches
// of the gateway and the remote stay right when a new sandbox gets a freed address.
func macFor(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0xfa, b[0], b[1], b[2], b[3]}
}

func upIfInfomsg() *nl.IfInfomsg {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Change, msg.Flags = unix.IFF_UP, unix.IFF_UP
	return msg
}

func linkAttrs(name string, mtu int) []*nl.RtAttr {
	return []*nl.RtAttr{
		nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)),
		nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu))),
		nl.NewRtAttr(unix.IFLA_TXQLEN, nl.Uint32Attr(txQueueLen)),
	}
}

// configurePeer, inside nsh: addr add IP/BITS dev NAME; link set NAME up; link set lo
// up; and, if gw is valid, route add default via GW.
func configurePeer(nsh netns.NsHandle, name string, ip netip.Addr, bits int, gw netip.Addr) error {
	nlh, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink socket in netns: %w", err)
	}
	defer nlh.Close()
	link, err := nlh.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s in netns: %w", name, err)
	}
	if err := nlh.AddrAdd(link, &netlink.Addr{IPNet: ipNet(ip, bits)}); err != nil {
		return fmt.Errorf("add address %s/%d to %s: %w", ip, bits, name, err)
	}
	if err := nlh.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	lo := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: loopbackIndex, Name: "lo"}}
	if err := nlh.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if !gw.IsValid() {
		return nil
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice()}
	if err := nlh.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %s: %w", gw, err)
	}
	return nil
}

// Config is the Host's configuration with defaults applied.
func (h *Host) Config() Config { return h.cfg }

// Gateway is the bridge's address, where sandboxes reach the daemon.
func (h *Host) Gateway() netip.Addr { return h.cfg.GatewayAddr() }

// RemoteAddr is the remote netns's address.
func (h *Host) RemoteAddr() netip.Addr { return h.cfg.RemoteAddr() }

// UplinkLinks names the uplink's ends: hostEnd (host netns, on the bridge; its egress
// is the host's upload) and remoteEnd (in the netns at remoteNetNSPath; its egress is
// the host's download).
func (h *Host) UplinkLinks() (hostEnd, remoteEnd, remoteNetNSPath string) {
	return h.cfg.UplinkHostName(), h.cfg.UplinkRemoteName(), ns.NamedPath(h.cfg.RemoteNetNS)
}

// Attach connects the sandbox whose netns is ep.NetNSPath: a veth pair with the host
// end up on the bridge and the peer as eth0 in the sandbox netns, with an address from
// the subnet, lo up and a default route via the gateway. Then the Shaper (if any) is
// updated. On error nothing is left behind.
func (h *Host) Attach(ctx context.Context, ep Endpoint) (Attachment, error) {
	if ep.SandboxID == "" || ep.NetNSPath == "" {
		return Attachment{}, fmt.Errorf("attach sandbox %q: sandbox ID and netns path are required", ep.SandboxID)
	}
	if err := ctx.Err(); err != nil {
		return Attachment{}, fmt.Errorf("attach sandbox %s: %w", ep.SandboxID, err)
	}
	m, err := h.reserve(ep)
	if err != nil {
		return Attachment{}, err
	}
	defer h.inflight.Done()
	if err := h.plumb(m); err != nil {
		h.release(m)
		return Attachment{}, fmt.Errorf("attach sandbox %s: %w", ep.SandboxID, err)
	}
	h.mu.Lock()
	m.ready = true
	h.mu.Unlock()
	if err := h.reshape(); err != nil {
		h.mu.Lock()
		m.ready = false
		h.mu.Unlock()
		h.deleteLink(m.HostVeth)
		h.release(m)
		if rerr := h.reshape(); rerr != nil {
			h.log.Error("re-apply shaping after failed attach", "sandbox", ep.SandboxID, "err", rerr)
		}
		return Attachment{}, fmt.Errorf("attach sandbox %s: apply shaping: %w", ep.SandboxID, err)
	}
	return Attachment{IP: m.IP, HostVeth: m.HostVeth, Gateway: h.cfg.GatewayAddr()}, nil
}

// reserve takes an address and a host veth name for ep.
func (h *Host) reserve(ep Endpoint) (*member, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("attach sandbox %s: %w", ep.SandboxID, ErrClosed)
	}
	if _, ok := h.members[ep.SandboxID]; ok {
		return nil, fmt.Errorf("attach sandbox %s: %w", ep.SandboxID, ErrAlreadyAttached)
	}
	ip, err := h.alloc.Allocate()
	if err != nil {
		return nil, fmt.Errorf("attach sandbox %s: %w (subnet %s)", ep.SandboxID, err, h.cfg.Subnet)
	}
	name := h.cfg.vethName(ep.SandboxID, 0)
	for salt := 1; h.names[name]; salt++ {
		name = h.cfg.vethName(ep.SandboxID, salt)
	}
	m := &member{Member: Member{
		SandboxID: ep.SandboxID, Function: ep.Function, MemoryMB: ep.MemoryMB, IP: ip, HostVeth: name,
	}}
	h.members[ep.SandboxID] = m
	h.names[name] = true
	m.netnsPath = ep.NetNSPath
	h.inflight.Add(1) // Done in Attach
	return m, nil
}

// release forgets m, keeping its counters in retired, and frees its address and name.
func (h *Host) release(m *member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(m)
}

func (h *Host) releaseLocked(m *member) {
	// In the same critical section, so that a concurrent sample counts it exactly once.
	if m.seen != (Traffic{}) {
		h.retired[m.Function] = h.retired[m.Function].add(m.seen)
	}
	delete(h.members, m.SandboxID)
	delete(h.names, m.HostVeth)
	if err := h.alloc.Free(m.IP); err != nil {
		h.log.Error("free sandbox address", "sandbox", m.SandboxID, "err", err)
	}
}

// plumb creates m's veth and configures the sandbox side; on error it removes the veth.
func (h *Host) plumb(m *member) error {
	nsh, err := netns.GetFromPath(m.netnsPath)
	if err != nil {
		return fmt.Errorf("open sandbox netns %s: %w", m.netnsPath, err)
	}
	defer nsh.Close()
	if err := h.addVeth(m.HostVeth, SandboxIfName, nsh, m.IP); err != nil {
		return err
	}
	// Isolated before the sandbox side comes up, so no frame ever crosses unisolated.
	if !h.cfg.AllowSandboxToSandbox {
		if err := h.isolatePort(m.HostVeth); err != nil {
			h.deleteLink(m.HostVeth)
			return err
		}
	}
	if err := configurePeer(nsh, SandboxIfName, m.IP, h.cfg.Subnet.Bits(), h.cfg.GatewayAddr()); err != nil {
		h.deleteLink(m.HostVeth)
		return err
	}
	return nil
}

// isolatePort sets the bridge port isolated (`bridge link set dev NAME isolated on`):
// the bridge forwards nothing between two isolated ports, while an isolated port still
// reaches the unisolated ones (the uplink) and the bridge itself (the gateway).
func (h *Host) isolatePort(name string) error {
	link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := h.nl.LinkSetIsolated(link, true); err != nil {
		return fmt.Errorf("isolate bridge port %s: %w", name, err)
	}
	return nil
}

// deleteLink deletes a host-netns link by name (a veth's peer goes with it); a missing
// link is not an error.
func (h *Host) deleteLink(name string) error {
	err := delLinkByName(name) // ip link del NAME
	if err != nil && !isNotFound(err) {
		h.log.Warn("delete link", "link", name, "err", err)
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// Detach removes the sandbox's veth (deleting the host end removes the peer), frees its
// address and updates the Shaper. A sandbox whose netns is already gone (its veth went
// with it) detaches fine.
func (h *Host) Detach(ctx context.Context, sandboxID string) error {
	h.mu.Lock()
	m := h.members[sandboxID]
	if h.closed || m == nil || !m.ready {
		h.mu.Unlock()
		return fmt.Errorf("detach sandbox %s: %w", sandboxID, ErrNotAttached)
	}
	m.ready = false
	h.inflight.Add(1)
	h.mu.Unlock()
	defer h.inflight.Done()
	h.retire(m)
	if err := h.deleteLink(m.HostVeth); err != nil {
		h.mu.Lock()
		m.ready = true // keep it so that a retry or Close can remove it
		h.mu.Unlock()
		return fmt.Errorf("detach sandbox %s: %w", sandboxID, err)
	}
	h.release(m)
	if err := h.reshape(); err != nil {
		return fmt.Errorf("detach sandbox %s: re-apply shaping: %w", sandboxID, err)
	}
	return nil
}

// retire reads m's veth a last time before Detach deletes it.
func (h *Host) retire(m *member) {
	link, err := h.nl.LinkByName(m.HostVeth)
	if err != nil {
		return // gone with the sandbox: the last sample's counters stand
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	m.observe(link.Attrs().Statistics)
}

// ForgetFunction drops the counters kept for a function that is gone (deleted, no sandbox
// left), so that its series end; a function with a sandbox still attached keeps them.
func (h *Host) ForgetFunction(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.members {
		if m.Function == name {
			return
		}
	}
	delete(h.retired, name)
}

// Members is the list of attached sandboxes, sorted by SandboxID.
func (h *Host) Members() []Member {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Member, 0, len(h.members))
	for _, m := range h.members {
		if m.ready {
			out = append(out, m.Member)
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.SandboxID, b.SandboxID) })
	return out
}

// reshape hands the current member list to the Shaper.
func (h *Host) reshape() error {
	if h.cfg.Shaper == nil {
		return nil
	}
	h.shapeMu.Lock()
	defer h.shapeMu.Unlock()
	return h.cfg.Shaper.Update(h.Members())
}

// Close detaches every sandbox, closes the Shaper, and deletes the uplink, the remote
// netns, the bridge and the iptables rules. Errors are joined; Close carries on past
// them so that as much as possible is removed.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.inflight.Wait()
	var errs []error
	if h.cfg.Shaper != nil {
		h.shapeMu.Lock()
		if err := h.cfg.Shaper.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close shaper: %w", err))
		}
		h.shapeMu.Unlock()
	}
	errs = append(errs, h.tearDown(ctx))
	return errors.Join(errs...)
}

// tearDown removes every object of this Host; used by Close and by a failed NewHost.
func (h *Host) tearDown(ctx context.Context) error {
	var errs []error
	h.mu.Lock()
	ms := make([]*member, 0, len(h.members))
	for _, m := range h.members {
		ms = append(ms, m)
	}
	h.mu.Unlock()
	for _, m := range ms {
		errs = append(errs, h.deleteLink(m.HostVeth))
		h.release(m)
	}
	errs = append(errs, h.deleteLink(h.cfg.UplinkHostName()))
	errs = append(errs, ns.DeleteNamed(h.cfg.RemoteNetNS))
	errs = append(errs, h.deleteLink(h.cfg.Bridge))
	if h.iptables {
		errs = append(errs, removeRules(ctx, h.cfg))
	}
	h.nl.Close()
	return errors.Join(errs...)
}

// delLinkByName deletes a link of the current netns by name in one request (the netlink
// library's LinkDel looks the index up first, and sends index 0 if that fails).
func delLinkByName(name string) error {
	req := nl.NewNetlinkRequest(unix.RTM_DELLINK, unix.NLM_F_ACK)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// ipNet converts ip and a prefix length to the *net.IPNet netlink wants.
func ipNet(ip netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, ip.BitLen())}
}

// prefixOf converts a *net.IPNet to a netip.Prefix.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones).Masked(), true
}

// isNotFound reports whether a netlink error means "no such link".
func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}
