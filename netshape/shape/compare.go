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
	gotClasses := map[uint32]Class{}
	for _, c := range got.Classes {
		gotClasses[c.ClassID] = c
	}
	for _, w := range want.Classes {
		g, ok := gotClasses[w.ClassID]
		if !ok {
			out = append(out, fmt.Sprintf("%s: class %s missing", want.Direction, FormatHandle(w.ClassID)))
			continue
		}
		delete(gotClasses, w.ClassID)
		if d := diffClass(w, g); d != "" {
			out = append(out, fmt.Sprintf("%s: class %s: %s", want.Direction, FormatHandle(w.ClassID), d))
		}
	}
	for id := range gotClasses {
		out = append(out, fmt.Sprintf("%s: unexpected class %s", want.Direction, FormatHandle(id)))
	}
	gotFilters := map[uint32]Filter{}
	for _, f := range got.Filters {
		gotFilters[f.Handle] = f
	}
	for _, w := range want.Filters {
		g, ok := gotFilters[w.Handle]
		if !ok {
			out = append(out, fmt.Sprintf("%s: filter %x missing", want.Direction, w.Handle))
			continue
		}
		delete(gotFilters, w.Handle)
		if !sameFilter(w, g) {
			out = append(out, fmt.Sprintf("%s: filter %x want %+v got %+v", want.Direction, w.Handle, w, g))
		}
	}
	for h := range gotFilters {
		out = append(out, fmt.Sprintf("%s: unexpected filter %x", want.Direction, h))
	}
	if !ptrEqual(want.Leaf, got.Leaf) {
		out = append(out, fmt.Sprintf("%s: leaf qdisc want %s got %s", want.Direction, fmtPtr(want.Leaf), fmtPtr(got.Leaf)))
	}
	if !ptrEqual(want.FlowHash, got.FlowHash) {
		out = append(out, fmt.Sprintf("%s: flow-hash filter want %s got %s", want.Direction, fmtPtr(want.FlowHash), fmtPtr(got.FlowHash)))
	}
	slices.Sort(out)
	return out
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
