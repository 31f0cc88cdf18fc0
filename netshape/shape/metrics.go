package shape

import (
	"cmp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Function labels of the non-member classes (bounded label values).
const (
	labelNIC          = "_nic"
	labelUnclassified = "_unclassified"
)

var (
	descConfiguredRate = classDesc(
		"faaslab_shaping_configured_rate_bytes_per_second",
		"Configured HTB rate (guaranteed) summed over the classes of a function, in bytes/s (base unit: ×8 for bit/s); _nic is the NIC cap.")
	descConfiguredCeil = classDesc(
		"faaslab_shaping_configured_ceil_bytes_per_second",
		"Configured HTB ceil (maximum) of the classes of a function (largest class), in bytes/s.")
	descSentBytes = classDesc(
		"faaslab_shaping_class_sent_bytes_total",
		"Bytes sent through the HTB classes of a function, including classes since removed.")
	descDrops = classDesc(
		"faaslab_shaping_class_dropped_packets_total",
		"Packets dropped by the HTB classes of a function, including classes since removed.")
)

// classDesc describes a series of the HTB classes, labelled by function and direction.
func classDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"function", "direction"}, nil)
}

// ClassStat is a sample of one HTB class.
type ClassStat struct {
	Direction      Direction
	ClassID        uint32
	Kind           ClassKind
	SandboxID      string
	Function       string
	RateBitsPerSec uint64
	CeilBitsPerSec uint64
	SentBytes      uint64
	SentPackets    uint64
	Drops          uint32
	Overlimits     uint32
	BacklogBytes   uint32
	QueuePackets   uint32
}

// ClassStats samples every class on both devices (two netlink dumps; cheap
// enough for a runner sampling every 100 ms).
func (s *Shaper) ClassStats() ([]ClassStat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.classStatsLocked()
}

func (s *Shaper) classStatsLocked() ([]ClassStat, error) {
	var out []ClassStat
	for _, dir := range []Direction{Upload, Download} {
		d := s.devs[dir]
		known := indexClasses(s.applied[dir].Classes)
		classes, err := d.listClasses()
		if err != nil {
			return nil, err
		}
		for _, k := range classes {
			c, ok := known[k.Handle]
			if !ok {
				continue // not ours
			}
			st := ClassStat{
				Direction: dir, ClassID: c.ClassID, Kind: c.Kind, SandboxID: c.SandboxID, Function: c.Function,
				RateBitsPerSec: c.RateBitsPerSec, CeilBitsPerSec: c.CeilBitsPerSec,
			}
			if k.Statistics != nil && k.Statistics.Basic != nil {
				st.SentBytes, st.SentPackets = k.Statistics.Basic.Bytes, uint64(k.Statistics.Basic.Packets)
			}
			if n, ok := classCountersOf(k); ok {
				s.counters.observe(dir, c, n)
			}
			if k.Statistics != nil && k.Statistics.Queue != nil {
				q := k.Statistics.Queue
				st.Drops, st.Overlimits, st.BacklogBytes, st.QueuePackets = q.Drops, q.Overlimits, q.Backlog, q.Qlen
			}
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b ClassStat) int {
		return cmp.Or(cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.ClassID, b.ClassID))
	})
	return foldFlowBuckets(out), nil
}

// foldFlowBuckets sums the flow-hash buckets of each direction into one
// entry (id of the first bucket, rates and counters summed, ceil the cap):
// the buckets say nothing about functions, and hundreds of them per sample
// would swamp a 100 ms sampler. Input is sorted by direction and class id.
func foldFlowBuckets(in []ClassStat) []ClassStat {
	out := in[:0]
	for _, st := range in {
		n := len(out)
		if st.Kind != KindFlowBucket || n == 0 || out[n-1].Kind != KindFlowBucket || out[n-1].Direction != st.Direction {
			out = append(out, st)
			continue
		}
		a := &out[n-1]
		a.RateBitsPerSec += st.RateBitsPerSec
		a.CeilBitsPerSec = max(a.CeilBitsPerSec, st.CeilBitsPerSec)
		a.SentBytes += st.SentBytes
		a.SentPackets += st.SentPackets
		a.Drops += st.Drops
		a.Overlimits += st.Overlimits
		a.BacklogBytes += st.BacklogBytes
		a.QueuePackets += st.QueuePackets
	}
	return out
}

// classFunctionLabel is the bounded "function" label of a class.
func classFunctionLabel(c Class) string {
	switch c.Kind {
	case KindRoot:
		return labelNIC
	case KindDefault, KindFlowBucket:
		return labelUnclassified
	}
	return c.Function
}

// collector exports the shaper's classes on scrape.
type collector struct{ s *Shaper }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descConfiguredRate
	ch <- descConfiguredCeil
	ch <- descSentBytes
	ch <- descDrops
}

type aggregate struct {
	rate, ceil float64
	n          classCounters
	present    bool
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	// The read keeps each class's counters in s.counters; when it fails, the last
	// read stands in (a counter must not drop out and come back as a reset).
	if _, err := s.classStatsLocked(); err != nil {
		s.logger.Warn("read class stats for metrics", "err", err)
	}
	agg := map[metricKey]*aggregate{}
	get := func(k metricKey) *aggregate {
		if agg[k] == nil {
			agg[k] = &aggregate{}
		}
		return agg[k]
	}
	for k, n := range s.counters.retired {
		a := get(k)
		a.n = a.n.add(n)
	}
	for _, dir := range []Direction{Upload, Download} {
		for _, c := range s.applied[dir].Classes {
			a := get(metricKey{classFunctionLabel(c), dir})
			a.present = true
			a.rate += float64(c.RateBitsPerSec) / 8 // Prometheus base unit: bytes
			a.ceil = max(a.ceil, float64(c.CeilBitsPerSec)/8)
			a.n = a.n.add(s.counters.live(dir, c))
		}
	}
	for k, a := range agg {
		labels := []string{k.function, string(k.direction)}
		ch <- prometheus.MustNewConstMetric(descSentBytes, prometheus.CounterValue, float64(a.n.bytes), labels...)
		ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(a.n.drops), labels...)
		if a.present {
			ch <- prometheus.MustNewConstMetric(descConfiguredRate, prometheus.GaugeValue, a.rate, labels...)
			ch <- prometheus.MustNewConstMetric(descConfiguredCeil, prometheus.GaugeValue, a.ceil, labels...)
		}
	}
}
