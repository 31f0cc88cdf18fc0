// Package shape turns a bandwidth-sharing policy and the set of co-located
// sandboxes into a plan of HTB classes and u32 filters (pure math, no
// syscalls), applies that plan to the emulated host NIC with netlink, reads it
// back, exports per-class counters, detects which traffic-control pieces the
// running kernel has, and measures how accurately the shaping works.
//
// The package deliberately knows nothing about bridges, veths or sandboxes
// beyond their IP addresses: the netshape package owns the topology and a small
// adapter in the daemon feeds this package the uplink device names.
package shape

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Policy names.
const (
	PolicyNone         = "none"
	PolicyFixed        = "fixed"
	PolicyEqual        = "equal"
	PolicyProportional = "proportional"
	PolicyPriority     = "priority"
	PolicyNetPrio      = "netprio"
)

// PolicyNames lists every policy name in a stable order (for help texts and doctor).
func PolicyNames() []string {
	return []string{PolicyNone, PolicyFixed, PolicyEqual, PolicyProportional, PolicyPriority, PolicyNetPrio}
}

// Sentinel errors, checked with errors.Is.
var (
	ErrUnknownPolicy = errors.New("unknown shaping policy")
	ErrInvalidPolicy = errors.New("invalid shaping policy configuration")
	ErrInvalidMember = errors.New("invalid shaping member")
)

// MaxHTBPrio is the largest HTB class priority (TC_HTB_NUMPRIO - 1); 0 is served first.
const MaxHTBPrio = 7

// PriorityForMemory is the HTB priority the daemon gives a sandbox under policy priority:
// the more memory a function pays for, the earlier it is served. 128 MB gets 7 (last),
// each doubling one level more, 3008 MB and more 3: prio = 7 − ⌊log2(memory / 128 MB)⌋.
func PriorityForMemory(memoryMB int) int {
	prio := MaxHTBPrio
	for m := 256; m <= memoryMB && prio > 0; m *= 2 {
		prio--
	}
	return prio
}

// Member is one sandbox that shares the emulated NIC.
type Member struct {
	SandboxID string
	Function  string
	MemoryMB  int
	// IP is the sandbox address on the sandbox subnet (IPv4). Unused by netprio.
	IP netip.Addr
	// Priority is the HTB prio for policy "priority": 0 (served first) … 7.
	Priority int
}

// PolicyConfig selects how co-located sandboxes share the NIC.
type PolicyConfig struct {
	// Name is one of none|fixed|equal|proportional|priority|netprio.
	Name string
	// NICBitsPerSec is the emulated NIC capacity in each direction; 0 = unlimited.
	NICBitsPerSec int64
	// FixedBitsPerSec is the per-sandbox cap for "fixed" (and, when set, the
	// per-sandbox rate for "netprio").
	FixedBitsPerSec int64
	// Strict makes equal/proportional/netprio non-work-conserving (ceil = rate).
	Strict bool
	// NICQueue is how flows share the capped NIC under policy "none": one of
	// NICQueueNames ("" = fair). Features.ResolveNICQueue turns "fair" into the
	// model in force (fq_codel, sfq or flowhash).
	NICQueue string
}

// ParsePolicy parses a policy name (case-insensitive, surrounding space ignored).
func ParsePolicy(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, p := range PolicyNames() {
		if n == p {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w %q: choose one of %s", ErrUnknownPolicy, name, strings.Join(PolicyNames(), ", "))
}

// Validate checks the configuration on its own (without members).
func (p PolicyConfig) Validate() error {
	if _, err := ParsePolicy(p.Name); err != nil {
		return err
	}
	if p.NICBitsPerSec < 0 {
		return fmt.Errorf("%w: NIC capacity %d bit/s is negative: use 0 for unlimited", ErrInvalidPolicy, p.NICBitsPerSec)
	}
	if p.FixedBitsPerSec < 0 {
		return fmt.Errorf("%w: fixed rate %d bit/s is negative", ErrInvalidPolicy, p.FixedBitsPerSec)
	}
	if _, err := ParseNICQueue(p.NICQueue); err != nil {
		return err
	}
	if p.NICBitsPerSec != 0 && p.NICBitsPerSec < MinRateBitsPerSec {
		return fmt.Errorf("%w: NIC capacity %d bit/s is below the minimum %d bit/s", ErrInvalidPolicy, p.NICBitsPerSec, MinRateBitsPerSec)
	}
	switch p.name() {
	case PolicyFixed:
		if p.FixedBitsPerSec < MinRateBitsPerSec {
			return fmt.Errorf("%w: policy %q needs a per-sandbox rate of at least %d bit/s (got %d)", ErrInvalidPolicy, PolicyFixed, MinRateBitsPerSec, p.FixedBitsPerSec)
		}
	case PolicyEqual, PolicyProportional, PolicyPriority:
		if p.NICBitsPerSec == 0 {
			return fmt.Errorf("%w: policy %q divides the NIC capacity and needs a finite one: set the NIC capacity", ErrInvalidPolicy, p.name())
		}
	case PolicyNetPrio:
		if p.NICBitsPerSec == 0 && p.FixedBitsPerSec == 0 {
			return fmt.Errorf("%w: policy %q needs a NIC capacity (shares ∝ memory) or a fixed per-sandbox rate", ErrInvalidPolicy, PolicyNetPrio)
		}
		if p.FixedBitsPerSec != 0 && p.FixedBitsPerSec < MinRateBitsPerSec {
			return fmt.Errorf("%w: fixed rate %d bit/s is below the minimum %d bit/s", ErrInvalidPolicy, p.FixedBitsPerSec, MinRateBitsPerSec)
		}
	}
	return nil
}

// name returns the canonical policy name (assumes Validate passed or tolerates garbage).
func (p PolicyConfig) name() string {
	n, err := ParsePolicy(p.Name)
	if err != nil {
		return p.Name
	}
	return n
}

// usesIP reports whether the policy classifies by sandbox IP (u32).
func (p PolicyConfig) usesIP() bool {
	switch p.name() {
	case PolicyFixed, PolicyEqual, PolicyProportional, PolicyPriority:
		return true
	}
	return false
}

// validateMembers checks members against the policy's needs.
func validateMembers(p PolicyConfig, members []Member) error {
	seen := make(map[string]bool, len(members))
	for i, m := range members {
		if m.SandboxID == "" {
			return fmt.Errorf("%w: member %d has an empty sandbox id", ErrInvalidMember, i)
		}
		if seen[m.SandboxID] {
			return fmt.Errorf("%w: sandbox %q listed twice", ErrInvalidMember, m.SandboxID)
		}
		seen[m.SandboxID] = true
		if p.usesIP() && (!m.IP.IsValid() || !m.IP.Unmap().Is4()) {
			return fmt.Errorf("%w: sandbox %q has IP %v: policy %q classifies by IPv4 source/destination address", ErrInvalidMember, m.SandboxID, m.IP, p.name())
		}
		switch p.name() {
		case PolicyProportional, PolicyNetPrio:
			if m.MemoryMB <= 0 {
				return fmt.Errorf("%w: sandbox %q has memory %d MB: policy %q weighs by memory", ErrInvalidMember, m.SandboxID, m.MemoryMB, p.name())
			}
		case PolicyPriority:
			if m.Priority < 0 || m.Priority > MaxHTBPrio {
				return fmt.Errorf("%w: sandbox %q has priority %d: HTB priorities are 0 (first) to %d", ErrInvalidMember, m.SandboxID, m.Priority, MaxHTBPrio)
			}
		}
	}
	return nil
}
