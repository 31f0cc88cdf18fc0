package sandbox

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Per-sandbox uids, in one place: every live sandbox runs as a uid (and gid) of its own
// from [DefaultUIDBase, DefaultUIDBase+DefaultUIDCount), so that nothing the kernel keys by
// uid (user keyrings, per-user rlimits such as RLIMIT_NPROC, signal permission, files in
// shared places) is shared between two functions. The range is above the host's regular
// and system users and below 2^31.
const (
	DefaultUIDBase  = 100000
	DefaultUIDCount = 65536
)

// ErrNoUID: every uid of the range is taken by a live sandbox.
var ErrNoUID = errors.New("no free sandbox uid")

// UIDPool hands out uids of a range, never one that is in use. Safe for concurrent use.
type UIDPool struct {
	base, count int

	mu   sync.Mutex
	next int // offset tried first: the pool cycles, so a released uid is reused last
	used map[int]bool
}

// NewUIDPool is the pool [base, base+count); zero values take the defaults.
func NewUIDPool(base, count int) (*UIDPool, error) {
	base = cmp.Or(base, DefaultUIDBase)
	count = cmp.Or(count, DefaultUIDCount)
	if base <= 0 || count <= 0 || base+count > 1<<31-1 {
		return nil, fmt.Errorf("sandbox uid range %d+%d: want a positive base and count below 2^31", base, count)
	}
	// A random start: two daemons (or tests) with the default range rarely pick the same uids.
	return &UIDPool{base: base, count: count, next: rand.IntN(count), used: map[int]bool{}}, nil
}

// Acquire returns a uid no live sandbox has.
func (p *UIDPool) Acquire() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.count {
		off := p.next
		p.next = (p.next + 1) % p.count
		if !p.used[off] {
			p.used[off] = true
			return p.base + off, nil
		}
	}
	return 0, fmt.Errorf("%w: all %d of %d.. are in use", ErrNoUID, p.count, p.base)
}

// Release returns uid to the pool (once its sandbox has no process left).
func (p *UIDPool) Release(uid int) {
	p.mu.Lock()
	delete(p.used, uid-p.base)
	p.mu.Unlock()
}
