package shape

import (
	"fmt"
	"slices"
)

// DiffKernel lists the kernel-visible differences between a wanted and a read
// back DirectionPlan (empty = equivalent). Bursts are compared with a small
// tolerance because HTB stores them as transmit times in psched ticks (64 ns),
// so a burst read back is only exact to rate × 64 ns plus rounding.
func DiffKernel(want, got DirectionPlan) []string {
	var out []string
	switch {
	case (want.Qdisc == nil) != (got.Qdisc == nil):
		out = append(out, fmt.Sprintf("%s: qdisc present want %v got %v", want.Direction, want.Qdisc != nil, got.Qdisc != nil))
	case want.Qdisc != nil && *want.Qdisc != *got.Qdisc:
		out = append(out, fmt.Sprintf("%s: qdisc want %+v got %+v", want.Direction, *want.Qdisc, *got.Qdisc))
	}
	out = append(out, diffByID(want.Direction, "class", want.Classes, got.Classes,
		func(c Class) uint32 { return c.ClassID }, FormatHandle, diffClass)...)
	out = append(out, diffByID(want.Direction, "filter", want.Filters, got.Filters,
		func(f Filter) uint32 { return f.Handle }, func(h uint32) string { return fmt.Sprintf("%x", h) }, diffFilter)...)
	if !ptrEqual(want.Leaf, got.Leaf) {
		out = append(out, fmt.Sprintf("%s: leaf qdisc want %s got %s", want.Direction, fmtPtr(want.Leaf), fmtPtr(got.Leaf)))
	}
	if !ptrEqual(want.FlowHash, got.FlowHash) {
		out = append(out, fmt.Sprintf("%s: flow-hash filter want %s got %s", want.Direction, fmtPtr(want.FlowHash), fmtPtr(got.FlowHash)))
	}
	slices.Sort(out)
	return out
}

// diffByID matches want and got items by id and lists the missing ones, the unexpected
// ones and diff's answer ("" = same) for the ones in both; name prints an id.
func diffByID[T any](dir Direction, kind string, want, got []T, id func(T) uint32, name func(uint32) string, diff func(w, g T) string) []string {
	var out []string
	gotByID := map[uint32]T{}
	for _, g := range got {
		gotByID[id(g)] = g
	}
	for _, w := range want {
		g, ok := gotByID[id(w)]
		if !ok {
			out = append(out, fmt.Sprintf("%s: %s %s missing", dir, kind, name(id(w))))
			continue
		}
		delete(gotByID, id(w))
		if d := diff(w, g); d != "" {
			out = append(out, fmt.Sprintf("%s: %s %s: %s", dir, kind, name(id(w)), d))
		}
	}
	for i := range gotByID {
		out = append(out, fmt.Sprintf("%s: unexpected %s %s", dir, kind, name(i)))
	}
	return out
}

func diffFilter(w, g Filter) string {
	if sameFilter(w, g) {
		return ""
	}
	return fmt.Sprintf("want %+v got %+v", w, g)
}

func diffClass(w, g Class) string {
	switch {
	case w.ParentID != g.ParentID:
		return fmt.Sprintf("parent want %s got %s", FormatHandle(w.ParentID), FormatHandle(g.ParentID))
	case w.RateBitsPerSec != g.RateBitsPerSec || w.CeilBitsPerSec != g.CeilBitsPerSec:
		return fmt.Sprintf("rate/ceil want %d/%d got %d/%d", w.RateBitsPerSec, w.CeilBitsPerSec, g.RateBitsPerSec, g.CeilBitsPerSec)
	case w.QuantumBytes != g.QuantumBytes || w.Prio != g.Prio:
		return fmt.Sprintf("quantum/prio want %d/%d got %d/%d", w.QuantumBytes, w.Prio, g.QuantumBytes, g.Prio)
	case !closeBytes(w.BurstBytes, g.BurstBytes) || !closeBytes(w.CburstBytes, g.CburstBytes):
		return fmt.Sprintf("burst/cburst want %d/%d got %d/%d", w.BurstBytes, w.CburstBytes, g.BurstBytes, g.CburstBytes)
	}
	return ""
}

func closeBytes(want, got uint32) bool {
	d := int64(want) - int64(got)
	if d < 0 {
		d = -d
	}
	return d <= max(int64(want)/100, 2048)
}

// sameFilter compares the kernel-visible part of two filters.
func sameFilter(a, b Filter) bool {
	return a.Handle == b.Handle && a.Priority == b.Priority && a.MatchSrc == b.MatchSrc &&
		a.IP == b.IP && a.ClassID == b.ClassID
}

// sameClassParams compares what `tc class change` can change, exactly.
func sameClassParams(a, b Class) bool {
	return a.ParentID == b.ParentID && a.RateBitsPerSec == b.RateBitsPerSec && a.CeilBitsPerSec == b.CeilBitsPerSec &&
		a.BurstBytes == b.BurstBytes && a.CburstBytes == b.CburstBytes && a.QuantumBytes == b.QuantumBytes && a.Prio == b.Prio
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%+v", *p)
}
