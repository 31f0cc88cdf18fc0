package scheduler

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaslab/faaslab/sandbox"
)

// Per-function resource series, read from the sandboxes' cgroups at scrape time (as
// netshape reads its link counters): nothing runs between scrapes, and no invocation
// pays for them.
var (
	descCPUUsage = functionDesc("faaslab_function_cpu_usage_seconds_total",
		"CPU time used by the function's sandboxes (cgroup cpuacct.usage / cpu.stat usage_usec), including stopped sandboxes.")
	descCPUThrottled = functionDesc("faaslab_function_cpu_throttled_seconds_total",
		"Time the function's sandboxes waited because their CPU quota ran out (cpu.stat throttled time), including stopped sandboxes.")
	descCPUThrottledPeriods = functionDesc("faaslab_function_cpu_throttled_periods_total",
		"CFS periods in which the function's sandboxes ran out of CPU quota, including stopped sandboxes.")
	descMemoryPeak = functionDesc("faaslab_function_memory_peak_bytes",
		"Largest memory peak of the function's live sandboxes (cgroup memory.max_usage_in_bytes / memory.peak).")
	descMemoryUsage = functionDesc("faaslab_function_memory_usage_bytes",
		"Memory in use by the function's live sandboxes (sum of cgroup memory usage).")
)

// functionDesc describes a per-function series (the one label is "function").
func functionDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"function"}, nil)
}

// cgroupUsage is what one sandbox's cgroup says.
type cgroupUsage struct {
	cpuNs, throttledNs, throttledPeriods uint64
	memPeak, memUsage                    uint64
}

// addCounters adds u's counters (not its gauges) to c.
func (c *cgroupUsage) addCounters(u cgroupUsage) {
	c.cpuNs += u.cpuNs
	c.throttledNs += u.throttledNs
	c.throttledPeriods += u.throttledPeriods
}

// latestCounters is u's counters, or prev's where a read older than u's (or none) gave
// more: a cgroup's counters only grow.
func latestCounters(prev, u cgroupUsage) cgroupUsage {
	u.cpuNs, u.throttledNs = max(u.cpuNs, prev.cpuNs), max(u.throttledNs, prev.throttledNs)
	u.throttledPeriods = max(u.throttledPeriods, prev.throttledPeriods)
	return u
}

// readCgroupUsage reads a sandbox's counters; ok is false when its cgroup is gone.
func readCgroupUsage(sb sandbox.Sandbox) (u cgroupUsage, ok bool) {
	st, err := sb.Stats()
	if err != nil {
		return u, false
	}
	u.cpuNs, u.memPeak, u.memUsage = st.CPUUsageNs, st.MemoryPeakBytes, st.MemoryUsageBytes
	if cs, err := sandbox.ReadCPUStat(sb.CgroupPath()); err == nil {
		u.throttledNs, u.throttledPeriods = cs.ThrottledNs, cs.ThrottledPeriods
	}
	return u, true
}

// resourceCollector exports per-function cgroup usage. Counters include sandboxes already
// stopped (their last reading is kept in retired), so they never go down.
type resourceCollector struct {
	s *Scheduler

	// mu makes "retire a sandbox" and "collect" atomic with respect to each other, so a
	// sandbox is counted either live or retired in one scrape, never both.
	mu      sync.Mutex
	retired map[string]*cgroupUsage // function → sum over stopped sandboxes
	gone    map[*instance]bool      // retired instances still in Scheduler.live
	// seen is each live sandbox's counters at the last read: they stand in when its cgroup
	// cannot be read (it died and its cgroup went before the sandbox was retired).
	seen map[*instance]cgroupUsage
}

func newResourceCollector(s *Scheduler) *resourceCollector {
	return &resourceCollector{s: s, retired: map[string]*cgroupUsage{}, gone: map[*instance]bool{},
		seen: map[*instance]cgroupUsage{}}
}

// observeLocked keeps a read of inst's cgroup (ok false: it failed) and returns the
// counters that stand for inst now.
func (c *resourceCollector) observeLocked(inst *instance, u cgroupUsage, ok bool) cgroupUsage {
	if !ok {
		return c.seen[inst]
	}
	u = latestCounters(c.seen[inst], u)
	c.seen[inst] = u
	return u
}

// retire keeps a live sandbox's final counters before it is stopped.
func (c *resourceCollector) retire(inst *instance) {
	if inst.sb == nil {
		return
	}
	u, ok := readCgroupUsage(inst.sb)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gone[inst] = true
	u = c.observeLocked(inst, u, ok)
	delete(c.seen, inst)
	if u == (cgroupUsage{}) {
		return
	}
	r := c.retired[inst.cfg.Name]
	if r == nil {
		r = &cgroupUsage{}
		c.retired[inst.cfg.Name] = r
	}
	r.addCounters(u)
}

// forget drops the bookkeeping of an instance that left Scheduler.live.
func (c *resourceCollector) forget(inst *instance) {
	c.mu.Lock()
	delete(c.gone, inst)
	delete(c.seen, inst)
	c.mu.Unlock()
}

// forgetFunction drops the totals of a function that is gone (no sandbox left).
func (c *resourceCollector) forgetFunction(name string) {
	c.mu.Lock()
	delete(c.retired, name)
	c.mu.Unlock()
}

func (c *resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCPUUsage, descCPUThrottled, descCPUThrottledPeriods, descMemoryPeak, descMemoryUsage} {
		ch <- d
	}
}

func (c *resourceCollector) Collect(ch chan<- prometheus.Metric) {
	// c.mu before the scheduler's lock is let go (destroy's order too), so that no sandbox
	// leaves live and is retired between the copy and the reads: it would count twice.
	c.s.mu.Lock()
	live := make([]*instance, 0, len(c.s.live))
	for inst := range c.s.live {
		live = append(live, inst)
	}
	c.mu.Lock()
	c.s.mu.Unlock()
	defer c.mu.Unlock()
	sums := map[string]*cgroupUsage{}
	for fn, r := range c.retired {
		v := *r
		v.memPeak, v.memUsage = 0, 0 // gauges: live sandboxes only
		sums[fn] = &v
	}
	live2 := map[string]bool{}
	for _, inst := range live {
		if c.gone[inst] {
			continue
		}
		u, ok := readCgroupUsage(inst.sb)
		u = c.observeLocked(inst, u, ok)
		if !ok && u == (cgroupUsage{}) {
			continue
		}
		fn := inst.cfg.Name
		s := sums[fn]
		if s == nil {
			s = &cgroupUsage{}
			sums[fn] = s
		}
		s.addCounters(u)
		if ok { // memory gauges: sandboxes read now only
			live2[fn] = true
			s.memPeak = max(s.memPeak, u.memPeak)
			s.memUsage += u.memUsage
		}
	}
	for fn, s := range sums {
		ch <- prometheus.MustNewConstMetric(descCPUUsage, prometheus.CounterValue, float64(s.cpuNs)/1e9, fn)
		ch <- prometheus.MustNewConstMetric(descCPUThrottled, prometheus.CounterValue, float64(s.throttledNs)/1e9, fn)
		ch <- prometheus.MustNewConstMetric(descCPUThrottledPeriods, prometheus.CounterValue, float64(s.throttledPeriods), fn)
		if live2[fn] {
			ch <- prometheus.MustNewConstMetric(descMemoryPeak, prometheus.GaugeValue, float64(s.memPeak), fn)
			ch <- prometheus.MustNewConstMetric(descMemoryUsage, prometheus.GaugeValue, float64(s.memUsage), fn)
		}
	}
}
