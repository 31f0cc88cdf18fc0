package analyze

import (
	"github.com/faaslab/faaslab/experiments/stats"
	"math"
	"strconv"
)

// Axis names what varies along a series: the x axis of its figure.
type Axis string

// The axes a series can vary along.
const (
	AxisMemory Axis = "memory_mb" // one function, memory varies (fig2, fig4)
	AxisN      Axis = "n"         // co-located functions (fig5, fig6, fig7)
	AxisObject Axis = "object_mb" // object size (fig3)
	AxisNone   Axis = ""          // a single point (e.g. one policy of the policies spec)
)

// Series is the points that share every parameter but the one on the x axis, in plan order.
type Series struct {
	Key    string
	Axis   Axis
	Points []Point
}

// Series groups the points by SeriesKey, in order of first appearance.
func (a *Analysis) Series() []Series {
	var out []Series
	index := map[string]int{}
	for _, p := range a.Points {
		i, ok := index[p.Series]
		if !ok {
			i = len(out)
			index[p.Series] = i
			out = append(out, Series{Key: p.Series})
		}
		out[i].Points = append(out[i].Points, p)
	}
	for i := range out {
		out[i].Axis = axisOf(out[i].Points)
	}
	return out
}

func axisOf(ps []Point) Axis {
	vary := func(f func(Point) int) bool {
		for _, p := range ps {
			if f(p) != f(ps[0]) {
				return true
			}
		}
		return false
	}
	switch {
	case vary(func(p Point) int { return p.Trial.N() }):
		return AxisN
	case vary(func(p Point) int { return p.Trial.MemoryMB[0] }):
		return AxisMemory
	case vary(func(p Point) int { return p.Trial.ObjectMB }):
		return AxisObject
	}
	return AxisNone
}

// X is the point's value on an axis.
func (p Point) X(axis Axis) float64 {
	switch axis {
	case AxisN:
		return float64(p.Trial.N())
	case AxisMemory:
		return float64(p.Trial.MemoryMB[0])
	case AxisObject:
		return float64(p.Trial.ObjectMB)
	}
	return math.NaN()
}

// Memory is the point's memory sizes joined with '+' (one per co-located function).
func (p Point) Memory() string { return joinInts(p.Trial.MemoryMB, "+") }

// statColumns are the Stat columns of the summary table: name, unit suffix, value.
func statColumns(p Point) []struct {
	name string
	s    stats.Stat
} {
	return []struct {
		name string
		s    stats.Stat
	}{
		{"download_s", p.Download}, {"response_s", p.Response}, {"aggregated_s", p.Aggregated},
		{"fn_bw_client_Bps", p.FnBWClient}, {"fn_bw_counter_Bps", p.FnBWCounter},
		{"agg_bw_client_Bps", p.AggBWClient}, {"agg_bw_counter_mean_Bps", p.AggBWMean},
		{"agg_bw_counter_peak_Bps", p.AggBWPeak}, {"jain", p.Jain}, {"throttled_share", p.Throttled},
		{"billed_gbs", p.BilledGBs},
	}
}

// Table is the summary table (summary.csv): one row per point, base units (seconds,
// bytes/s, GB-s); empty cells where there was no data.
func (a *Analysis) Table() (header []string, rows [][]string) {
	header = []string{"spec", "point", "group", "policy", "strict", "nic_queue", "cpu_model", "workload", "n",
		"memory_mb", "objects", "object_mb", "seconds", "reps", "missing", "invocations", "errors"}
	for _, c := range statColumns(Point{}) {
		header = append(header, c.name+"_median", c.name+"_p5", c.name+"_p95")
	}
	header = append(header, "cost_norm", "cost_usd", "per_mb_spread")
	for i, p := range a.Points {
		t := p.Trial
		row := []string{a.Spec, strconv.Itoa(i), t.Group, t.Policy, strconv.FormatBool(t.Strict), t.NICQueue,
			t.CPUModel, t.Workload, strconv.Itoa(t.N()), p.Memory(), strconv.Itoa(t.Objects),
			strconv.Itoa(t.ObjectMB), Num(t.Seconds), strconv.Itoa(p.Reps), strconv.Itoa(p.Missing),
			strconv.Itoa(p.Invocations), strconv.Itoa(p.Errors)}
		for _, c := range statColumns(p) {
			row = append(row, Num(c.s.Median), Num(c.s.P5), Num(c.s.P95))
		}
		row = append(row, Num(p.CostNorm), Num(p.CostUSD), Num(p.PerMBSpread))
		rows = append(rows, row)
	}
	return header, rows
}

// Num formats a number for tables: six significant digits, empty for NaN.
func Num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}
