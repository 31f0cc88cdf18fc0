package sandbox

import (
	"os"
	"path/filepath"
)

// CPUStat is a cgroup's CPU bandwidth accounting: how often and for how long the CFS
// quota held its tasks back. A sandbox at 0.085 CPU doing CPU-bound work is throttled in
// almost every 100 ms period; an I/O-bound one rarely is.
type CPUStat struct {
	Periods          uint64 // enforcement periods with runnable tasks
	ThrottledPeriods uint64 // periods in which the quota ran out
	ThrottledNs      uint64 // total time tasks waited for the next period
}

// ReadCPUStat reads cpu.stat of the cgroup at path: nr_periods, nr_throttled and
// throttled_time in ns (v1, cpu controller) or throttled_usec (v2).
func ReadCPUStat(path string) (CPUStat, error) {
	b, err := os.ReadFile(filepath.Join(controllerDir("cpu", path), "cpu.stat"))
	if err != nil {
		return CPUStat{}, err
	}
	return parseCPUStat(string(b), CgroupV2())
}

func parseCPUStat(text string, v2 bool) (CPUStat, error) {
	var st CPUStat
	var err error
	if st.Periods, err = parseKey(text, "nr_periods"); err != nil {
		return st, err
	}
	if st.ThrottledPeriods, err = parseKey(text, "nr_throttled"); err != nil {
		return st, err
	}
	if v2 {
		us, err := parseKey(text, "throttled_usec")
		st.ThrottledNs = us * 1000
		return st, err
	}
	st.ThrottledNs, err = parseKey(text, "throttled_time")
	return st, err
}
