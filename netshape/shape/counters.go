package shape

import "github.com/vishvananda/netlink"

// classCounters are the counters of one HTB class exported per function.
type classCounters struct{ bytes, drops uint64 }

func (a classCounters) add(b classCounters) classCounters {
	return classCounters{bytes: a.bytes + b.bytes, drops: a.drops + b.drops}
}

// classCountersOf reads a dumped class's counters (ok false: the dump had none).
func classCountersOf(k *netlink.HtbClass) (n classCounters, ok bool) {
	if k.Statistics == nil || k.Statistics.Basic == nil {
		return n, false
	}
	n.bytes = k.Statistics.Basic.Bytes
	if k.Statistics.Queue != nil {
		n.drops = uint64(k.Statistics.Queue.Drops)
	}
	return n, true
}

// classKey names a class on one device.
type classKey struct {
	dir Direction
	id  uint32
}

// seenClass is a class's counters at its last read, and whose they are.
type seenClass struct {
	label, sandboxID string
	n                classCounters
}

func (c seenClass) is(cl Class) bool {
	return c.label == classFunctionLabel(cl) && c.sandboxID == cl.SandboxID
}

// ledger keeps the per-function class counters monotonic across membership changes: a
// class's last read stands in when a dump fails, and a class's counters move to retired
// only once the kernel has deleted it (a failed delete leaves it live and counted once).
// Shaper.mu guards it.
type ledger struct {
	seen    map[classKey]seenClass
	retired map[metricKey]classCounters // classes deleted since New
}

func newLedger() ledger {
	return ledger{seen: map[classKey]seenClass{}, retired: map[metricKey]classCounters{}}
}

// observe keeps a read of class c on dir. Counters only grow, so a lower value is an
// older dump than one already kept.
func (l *ledger) observe(dir Direction, c Class, n classCounters) {
	k := classKey{dir, c.ClassID}
	prev := l.seen[k]
	if prev.is(c) {
		n = classCounters{bytes: max(n.bytes, prev.n.bytes), drops: max(n.drops, prev.n.drops)}
	}
	l.seen[k] = seenClass{label: classFunctionLabel(c), sandboxID: c.SandboxID, n: n}
}

// live is the counters that stand for class c on dir now.
func (l *ledger) live(dir Direction, c Class) classCounters {
	if s := l.seen[classKey{dir, c.ClassID}]; s.is(c) {
		return s.n
	}
	return classCounters{}
}

// forget drops the retired counters of function, unless one of its classes is still seen.
func (l *ledger) forget(function string) {
	for _, s := range l.seen {
		if s.label == function {
			return
		}
	}
	for _, dir := range []Direction{Upload, Download} {
		delete(l.retired, metricKey{function, dir})
	}
}

// settle retires the classes of dir seen before that are not in applied (what the
// kernel holds after a change): they were deleted.
func (l *ledger) settle(dir Direction, applied []Class) {
	byID := indexClasses(applied)
	for k, s := range l.seen {
		if k.dir != dir {
			continue
		}
		if c, ok := byID[k.id]; ok && s.is(c) {
			continue
		}
		mk := metricKey{s.label, dir}
		l.retired[mk] = l.retired[mk].add(s.n)
		delete(l.seen, k)
	}
}
