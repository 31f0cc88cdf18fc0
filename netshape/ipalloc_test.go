package netshape

import (
	"errors"
	"net/netip"
	"testing"
)

func TestAllocatorSkipsReservedAddresses(t *testing.T) {
	a, err := newAllocator(netip.MustParsePrefix("10.9.0.0/29"))
	if err != nil {
		t.Fatal(err)
	}
	// /29: .0 network, .1 gateway, .6 remote, .7 broadcast -> .2 .. .5.
	var got []string
	for {
		ip, err := a.Allocate()
		if errors.Is(err, ErrNoAddresses) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	want := []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5"}
	if len(got) != len(want) {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v", got, want)
		}
	}
	if a.InUse() != 4 {
		t.Fatalf("InUse = %d, want 4", a.InUse())
	}
}

func TestAllocatorReusesFreedLastOldestFirst(t *testing.T) {
	a, err := newAllocator(netip.MustParsePrefix("10.9.0.0/28")) // .2 .. .13 usable
	if err != nil {
		t.Fatal(err)
	}
	first := mustAlloc(t, a)  // .2
	second := mustAlloc(t, a) // .3
	if err := a.Free(second); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(first); err != nil {
		t.Fatal(err)
	}
	// Never-used addresses come before freed ones.
	for want := 4; want <= 13; want++ {
		ip := mustAlloc(t, a)
		if ip.As4()[3] != byte(want) {
			t.Fatalf("got %s, want 10.9.0.%d before reusing freed addresses", ip, want)
		}
	}
	// Then freed ones, in the order they were freed.
	if ip := mustAlloc(t, a); ip != second {
		t.Fatalf("got %s, want first-freed %s", ip, second)
	}
	if ip := mustAlloc(t, a); ip != first {
		t.Fatalf("got %s, want %s", ip, first)
	}
	if _, err := a.Allocate(); !errors.Is(err, ErrNoAddresses) {
		t.Fatalf("Allocate on a full pool: err = %v, want ErrNoAddresses", err)
	}
}

func TestAllocatorFreeErrors(t *testing.T) {
	a, err := newAllocator(netip.MustParsePrefix("10.9.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.9.0.0", "10.9.0.1", "10.9.0.254", "10.9.0.255", "10.9.0.7"} {
		if err := a.Free(netip.MustParseAddr(ip)); !errors.Is(err, ErrNotAllocated) {
			t.Errorf("Free(%s) = %v, want ErrNotAllocated", ip, err)
		}
	}
	ip := mustAlloc(t, a)
	if err := a.Free(ip); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(ip); !errors.Is(err, ErrNotAllocated) {
		t.Fatalf("double Free = %v, want ErrNotAllocated", err)
	}
}

func TestAllocatorNeverHandsOutReserved(t *testing.T) {
	p := netip.MustParsePrefix("10.9.0.0/24")
	a, err := newAllocator(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Subnet: p}.WithDefaults()
	reserved := map[netip.Addr]bool{
		p.Addr(): true, cfg.GatewayAddr(): true, cfg.RemoteAddr(): true, lastAddr(p): true,
	}
	seen := map[netip.Addr]bool{}
	// Allocate everything, free everything, allocate everything again.
	for round := range 2 {
		var ips []netip.Addr
		for {
			ip, err := a.Allocate()
			if err != nil {
				break
			}
			if reserved[ip] || !p.Contains(ip) {
				t.Fatalf("round %d: allocated reserved or foreign address %s", round, ip)
			}
			ips = append(ips, ip)
			seen[ip] = true
		}
		if len(ips) != 252 {
			t.Fatalf("round %d: allocated %d addresses, want 252", round, len(ips))
		}
		for _, ip := range ips {
			if err := a.Free(ip); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(seen) != 252 {
		t.Fatalf("saw %d distinct addresses, want 252", len(seen))
	}
}

func TestNewAllocatorRejects(t *testing.T) {
	for _, p := range []string{"10.9.0.0/30", "fd00::/64"} {
		if _, err := newAllocator(netip.MustParsePrefix(p)); err == nil {
			t.Errorf("newAllocator(%s) succeeded, want an error", p)
		}
	}
}

func mustAlloc(t *testing.T, a *allocator) netip.Addr {
	t.Helper()
	ip, err := a.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	return ip
}
