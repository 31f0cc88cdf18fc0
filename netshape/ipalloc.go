package netshape

import (
	"errors"
	"fmt"
	"net/netip"
)

// Allocator errors.
var (
	// ErrNoAddresses: every sandbox address of the subnet is in use.
	ErrNoAddresses = errors.New("no free sandbox address in subnet")
	// ErrNotAllocated: the address was not handed out (or was already freed).
	ErrNotAllocated = errors.New("address not allocated")
)

// allocator hands out the sandbox addresses of an IPv4 subnet: everything but the
// network address, the gateway (first host), the remote (last usable) and the broadcast
// address. Never-used addresses go first and freed ones are reused last, oldest first,
// so that a just-freed address (whose conntrack entries, ARP caches and shaping
// classes may still be around) is not handed to the next sandbox straight away.
// Pure and not safe for concurrent use: the Host serialises it.
type allocator struct {
	next  netip.Addr // next never-used address
	last  netip.Addr // last sandbox address (inclusive)
	freed []netip.Addr
	inUse map[netip.Addr]bool
}

// newAllocator returns an allocator for subnet, which must be IPv4 and at most /29.
func newAllocator(subnet netip.Prefix) (*allocator, error) {
	subnet = subnet.Masked()
	if !subnet.Addr().Is4() || subnet.Bits() > 29 {
		return nil, fmt.Errorf("allocate addresses in %s: need an IPv4 subnet of at most /29", subnet)
	}
	return &allocator{
		next:  subnet.Addr().Next().Next(),    // after network and gateway
		last:  lastAddr(subnet).Prev().Prev(), // before broadcast and remote
		inUse: map[netip.Addr]bool{},
	}, nil
}

// lastAddr is the highest address of p (the broadcast address for IPv4).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Allocate returns a free address or ErrNoAddresses.
func (a *allocator) Allocate() (netip.Addr, error) {
	if a.next.IsValid() && a.next.Compare(a.last) <= 0 {
		ip := a.next
		a.next = a.next.Next()
		a.inUse[ip] = true
		return ip, nil
	}
	if len(a.freed) > 0 {
		ip := a.freed[0]
		a.freed = a.freed[1:]
		a.inUse[ip] = true
		return ip, nil
	}
	return netip.Addr{}, ErrNoAddresses
}

// Free returns ip to the pool; ErrNotAllocated if it was not in use.
func (a *allocator) Free(ip netip.Addr) error {
	if !a.inUse[ip] {
		return fmt.Errorf("free %s: %w", ip, ErrNotAllocated)
	}
	delete(a.inUse, ip)
	a.freed = append(a.freed, ip)
	return nil
}

// InUse is the number of addresses handed out and not freed.
func (a *allocator) InUse() int { return len(a.inUse) }
