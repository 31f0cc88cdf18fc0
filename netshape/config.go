// Package netshape is faaslab's host networking: the bridge the sandboxes hang off, one veth
// per sandbox, IP allocation, the uplink veth pair that plays the host NIC, the remote
// network namespace that plays the world outside the host, traffic counters, and the hook
// through which a Shaper (package netshape/shape) applies bandwidth policies.
//
// Topology (docs/architecture.md):
//
//	sandbox netns eth0 ==veth==> bridge (gateway IP) ==uplink veth==> remote netns (remote IP)
//
// Every kernel object is named from Config.Name so that a test can use its own prefix and
// Reap(cfg) removes exactly what a Host with that Config creates.
package netshape

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Defaults, in one place.
const (
	// DefaultName is the prefix of every object netshape creates.
	DefaultName = "faaslab"
	// DefaultMTU of the bridge and every veth.
	DefaultMTU = 1500
	// maxNameLen keeps at least 4 hex characters of hash in a 15-byte (IFNAMSIZ-1)
	// sandbox veth name.
	maxNameLen = 11
	// ifNameMax is IFNAMSIZ-1, the longest Linux interface name.
	ifNameMax = 15
	// txQueueLen of every veth we create: the kernel's default for veth, stated
	// explicitly because HTB on a txqueuelen-0 device misbehaves (docs/nic-model.md, kernel facts) and
	// because the netlink library sends 0 when a LinkAttrs literal leaves it unset.
	txQueueLen = 1000
	// defaultIPTables is the iptables binary, looked up in PATH.
	defaultIPTables = "iptables"
)

// DefaultSubnet is the sandbox subnet when Config.Subnet is unset.
func DefaultSubnet() netip.Prefix { return netip.MustParsePrefix("10.201.0.0/16") }

// ErrInvalidConfig is returned (wrapped) by Config.Validate.
var ErrInvalidConfig = errors.New("invalid netshape config")

// Config says how the host network is laid out. The zero value means all defaults.
type Config struct {
	// Name prefixes every link and netns created ("faaslab"); it must start with
	// "faaslab" and be at most 11 characters of [a-z0-9]. Tests use a unique one
	// (e.g. "faaslabt3f9") so that their objects never clash with others'.
	//
	// Link names: bridge Name+"0" (unless Bridge is set), uplink host end Name+"-up",
	// uplink remote end Name+"-rm", sandbox host ends Name+<hex hash>. Names
	// Name+"-*" are reserved for host-level links of this Config (a shaper's IFBs
	// should use them too): Reap removes them.
	Name string
	// Bridge is the bridge's name (default Name+"0", i.e. "faaslab0").
	Bridge string
	// Subnet of the sandboxes (default 10.201.0.0/16, IPv4, at most /29). The bridge
	// gets the first host address (the gateway, where the daemon serves the Runtime
	// API) and the remote netns the last usable one.
	Subnet netip.Prefix
	// RemoteNetNS is the name of the named netns (/run/netns/NAME) that plays the
	// world outside the host (default Name+"-remote", i.e. "faaslab-remote").
	RemoteNetNS string
	// MTU of the bridge and all veths (default 1500).
	MTU int
	// Shaper, if not nil, gets the full member list after every Attach and Detach
	// and is closed by Host.Close. nil = no shaping.
	Shaper Shaper
	// IPTables is the iptables binary (default "iptables", looked up in PATH).
	IPTables string
	// AllowSandboxToSandbox leaves the bridge ports of sandboxes unisolated, so that
	// sandboxes reach each other (function-to-function experiments). By default each
	// sandbox's port is isolated: it reaches the gateway and the uplink only.
	AllowSandboxToSandbox bool
	// HostPorts are the TCP ports of the host's own addresses that sandboxes may connect
	// to (the Runtime API's, later the function-URL port). Every other packet from the
	// subnet to the host is dropped by iptables INPUT rules. Empty = no host port at all.
	HostPorts []int
}

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	c.Name = cmp.Or(c.Name, DefaultName)
	c.Bridge = cmp.Or(c.Bridge, c.Name+"0")
	if !c.Subnet.IsValid() {
		c.Subnet = DefaultSubnet()
	}
	c.Subnet = c.Subnet.Masked()
	c.RemoteNetNS = cmp.Or(c.RemoteNetNS, c.Name+"-remote")
	c.MTU = cmp.Or(c.MTU, DefaultMTU)
	c.IPTables = cmp.Or(c.IPTables, defaultIPTables)
	return c
}

// ValidateName checks a host's name (--net-prefix), which starts every link and
// namespace name it makes.
func ValidateName(name string) error {
	if !strings.HasPrefix(name, DefaultName) || len(name) > maxNameLen || !lowerAlnum(name) {
		return fmt.Errorf("%w: name %q must start with %q and be at most %d characters of [a-z0-9]",
			ErrInvalidConfig, name, DefaultName, maxNameLen)
	}
	return nil
}

// Validate checks a Config that has had its defaults applied.
func (c Config) Validate() error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	// Reap deletes the bridge and the remote netns by name: they carry the host's name, so
	// that it never takes another program's (docker0, a netns of ip-netns).
	if !strings.HasPrefix(c.Bridge, c.Name) || len(c.Bridge) > ifNameMax || strings.ContainsAny(c.Bridge, "/ \t\n:") {
		return fmt.Errorf("%w: bridge name %q must start with the host's name %q and be at most %d characters without '/', ':' or spaces",
			ErrInvalidConfig, c.Bridge, c.Name, ifNameMax)
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 29 {
		return fmt.Errorf("%w: subnet %s must be IPv4 and at most /29", ErrInvalidConfig, c.Subnet)
	}
	if !strings.HasPrefix(c.RemoteNetNS, c.Name) || strings.ContainsRune(c.RemoteNetNS, '/') {
		return fmt.Errorf("%w: remote netns name %q must start with the host's name %q and be a plain file name", ErrInvalidConfig, c.RemoteNetNS, c.Name)
	}
	for _, p := range c.HostPorts {
		if p <= 0 || p > 65535 {
			return fmt.Errorf("%w: host port %d must be within 1-65535", ErrInvalidConfig, p)
		}
	}
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("%w: mtu %d must be within 576-65535", ErrInvalidConfig, c.MTU)
	}
	return nil
}

func lowerAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// GatewayAddr is the bridge's address: the first host address of the subnet.
func (c Config) GatewayAddr() netip.Addr { return c.Subnet.Masked().Addr().Next() }

// RemoteAddr is the remote netns's address: the last usable address of the subnet.
func (c Config) RemoteAddr() netip.Addr { return lastAddr(c.Subnet).Prev() }

// UplinkHostName is the bridge-side end of the uplink veth pair (host netns).
func (c Config) UplinkHostName() string { return c.Name + "-up" }

// UplinkRemoteName is the remote-side end of the uplink veth pair (remote netns).
func (c Config) UplinkRemoteName() string { return c.Name + "-rm" }

// vethName is the host-end name of a sandbox's veth: the prefix then as many hex
// characters of sha256(sandboxID, salt) as fit in 15 bytes. salt > 0 resolves the rare
// collision of two sandbox IDs on the short hash.
func (c Config) vethName(sandboxID string, salt int) string {
	in := sandboxID
	if salt > 0 {
		in += "#" + strconv.Itoa(salt)
	}
	sum := sha256.Sum256([]byte(in))
	return c.Name + hex.EncodeToString(sum[:])[:ifNameMax-len(c.Name)]
}

// isVethName reports whether name has the shape vethName gives for this Config.
func (c Config) isVethName(name string) bool {
	rest, ok := strings.CutPrefix(name, c.Name)
	if !ok || len(rest) != ifNameMax-len(c.Name) {
		return false
	}
	for _, r := range rest {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// ownsLink reports whether a link in the host netns was created by a Host with this
// Config (what Reap removes): the bridge, links named Name-… (the uplink), and sandbox
// veths, which are recognised by their bridge, not by their name alone. A veth name is
// Name + hex, so "faaslab" + "1abc…" is also a veth of prefix "faaslab1"; only master (the
// link's bridge index) tells whose it is. bridge is this Config's bridge index (0: none).
func (c Config) ownsLink(name string, master, bridge int) bool {
	if name == c.Bridge || strings.HasPrefix(name, c.Name+"-") {
		return true
	}
	return c.isVethName(name) && bridge != 0 && master == bridge
}

// iptablesComment tags the FORWARD and INPUT rules of this Config's bridge.
func (c Config) iptablesComment() string { return "faaslab:" + c.Bridge }
