// Package cpustat parses a cgroup's cpu.stat, v1 and v2 alike: for the host (the
// backends' stats, the scheduler's throttling series) and for the handlers that measure
// their own sandbox from inside it. It has no dependencies, so the static runtime binary
// carries it cheaply.
package cpustat

import (
	"fmt"
	"strconv"
	"strings"
)

// Stat is a cgroup's CPU bandwidth accounting, how often and for how long the CFS quota
// held its tasks back, and on v2 its CPU usage. A sandbox at 0.085 CPU doing CPU-bound
// work is throttled in almost every 100 ms period; an I/O-bound one rarely is.
type Stat struct {
	Periods          uint64 // enforcement periods with runnable tasks (nr_periods)
	ThrottledPeriods uint64 // periods in which the quota ran out (nr_throttled)
	ThrottledNs      uint64 // total time tasks waited: throttled_time (v1, ns) or throttled_usec (v2)
	// UsageNs is the CPU time used (v2 usage_usec); HasUsage is false on v1, whose cpu.stat
	// has none (usage is cpuacct.usage there).
	UsageNs  uint64
	HasUsage bool
}

// Parse reads cpu.stat's "key value" lines; keys it does not use are skipped, and so
// are missing ones (a cgroup without a quota has no throttling keys on some kernels).
func Parse(text string) (Stat, error) {
	var st Stat
	for _, line := range strings.Split(text, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		var field *uint64
		scale := uint64(1)
		switch key {
		case "nr_periods":
			field = &st.Periods
		case "nr_throttled":
			field = &st.ThrottledPeriods
		case "throttled_time":
			field = &st.ThrottledNs
		case "throttled_usec":
			field, scale = &st.ThrottledNs, 1000
		case "usage_usec":
			field, scale, st.HasUsage = &st.UsageNs, 1000, true
		default:
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return st, fmt.Errorf("cpu.stat %s: %w", key, err)
		}
		*field = n * scale
	}
	return st, nil
}
