package report

import (
	"fmt"
	"github.com/faaslab/faaslab/experiments/stats"
	"math"
	"slices"
	"strings"

	"github.com/faaslab/faaslab/experiments/analyze"
	"github.com/faaslab/faaslab/experiments/record"
)

// Bands of the trend checks: how close "flat", "halves" or "near" must be.
const (
	FlatSpread    = 0.10 // fig2: (max−min)/mean of bandwidth across memory
	ChunkSpread   = 0.15 // fig3: the same across object sizes ("no noticeable effect")
	MonotoneSlack = 0.05 // a step against a trend smaller than this is noise
	// CPUBoundSpread: fig6's N = 1…4 are flat here (each 128 MB function is held by its CPU
	// quota below NIC/N), and one trial's median download time differs from another's of
	// the same kind by up to ~12 % (measured): the CFS quota hands out 100 ms periods, so
	// the times fall on 0.5/0.6/0.7 s steps. A step back smaller than this is that noise.
	CPUBoundSpread    = 0.15
	GrowsWithN        = 0.50 // fig6: the largest N's download time at least 1.5 × N = 1's
	HalvingLow        = 0.40 // fig4: download time 256 MB / 128 MB
	HalvingHigh       = 0.65
	AggregateFlat     = 0.10 // fig5: max/min − 1 of the counters' aggregate at N = 1, 8, 26
	FairShareBand     = 0.20 // fig5: per-function median / (aggregate/N) within 1 ± this
	NoGain            = 0.10 // fig7: response time gains less than this from 16 to 26
	ProportionalBand  = 0.10 // policies: Spread of bandwidth per MB across memory sizes
	EqualJain         = 0.99 // policies: Jain's index under equal
	ThrottledExplains = 0.50 // a median throttled share above this: the CPU quota set the pace
)

// evaluation is what the checks found: pass/fail checks and paper-vs-measured rows
// (figure, quantity, paper, measured).
type evaluation struct {
	checks []Check
	paper  [][]string
	run    *record.Run
}

func evaluate(run *record.Run, a *analyze.Analysis) evaluation {
	e := evaluation{run: run}
	for _, s := range a.Series() {
		switch kind(s) {
		case "fig2":
			e.fig2(s)
		case "fig3":
			e.fig3(s)
		case "fig4":
			e.fig4(s)
		case "fig5":
			e.fig5(s)
		case "fig6":
			if a.Spec == "fig7" {
				e.fig7(s)
			} else {
				e.fig6(s)
			}
		case "policy":
			e.policies(s)
		}
	}
	if a.Spec == "today" {
		e.today()
	}
	return e
}

// kind tells which of the paper's figures a series is shaped like.
func kind(s analyze.Series) string {
	for _, p := range s.Points {
		if mixed(p.Trial.MemoryMB) {
			return "policy"
		}
	}
	iperf := analyze.Iperf(s.Points[0].Trial.Workload)
	switch {
	case s.Axis == analyze.AxisMemory && iperf:
		return "fig2"
	case s.Axis == analyze.AxisObject:
		return "fig3"
	case s.Axis == analyze.AxisMemory:
		return "fig4"
	case s.Axis == analyze.AxisN && iperf:
		return "fig5"
	case s.Axis == analyze.AxisN:
		return "fig6"
	}
	return ""
}

func mixed(mem []int) bool {
	for _, m := range mem {
		if m != mem[0] {
			return true
		}
	}
	return false
}

// Label names a series for people: group, workload, and the policy, queue and CPU model when
// they are not the defaults.
func Label(t record.Trial) string {
	parts := []string{}
	if t.Group != "" {
		parts = append(parts, t.Group)
	}
	parts = append(parts, t.Workload)
	if t.Policy != "" && t.Policy != "none" {
		parts = append(parts, t.Policy)
	}
	if t.Strict {
		parts = append(parts, "strict")
	}
	if t.NICQueue == "fifo" {
		parts = append(parts, "fifo")
	}
	if t.CPUModel != "" && t.CPUModel != "paper" {
		parts = append(parts, "cpu "+t.CPUModel)
	}
	return strings.Join(parts, " ")
}

// figureName is the paper's figure a series reproduces (Label names the CPU model).
func figureName(fig string, _ record.Trial) string { return fig }

func (e *evaluation) add(name string, pass bool, detail string, pts []analyze.Point, boxBound bool) {
	c := Check{Name: name, Pass: pass, Detail: detail}
	if !pass {
		c.Explained = e.explain(pts, boxBound)
	}
	e.checks = append(e.checks, c)
}

func (e *evaluation) row(fig, quantity, paper, measured string) {
	e.paper = append(e.paper, []string{fig, quantity, paper, measured})
}

// explain names what on this machine can account for a failing check: what the manifest
// says it could not honour and, where the paper expects the network to set the pace, a CPU
// quota that throttled the sandboxes instead.
func (e *evaluation) explain(pts []analyze.Point, networkBound bool) string {
	var why []string
	if u := e.run.Manifest.Unhonoured; len(u) > 0 {
		why = append(why, "this machine could not honour: "+strings.Join(u, "; "))
	}
	if networkBound {
		worst := -1
		for i, p := range pts {
			if p.Throttled.N > 0 && p.Throttled.Median > ThrottledExplains && (worst < 0 || p.Throttled.Median > pts[worst].Throttled.Median) {
				worst = i
			}
		}
		if worst >= 0 {
			p := pts[worst]
			why = append(why, fmt.Sprintf("the CPU quota throttled the sandboxes in %s of CFS periods (median, at %s MB × %d): their client stack, not the network, set the pace on this box's CPU",
				pct(p.Throttled.Median), p.Memory(), p.Trial.N()))
		} else {
			// Mixed sizes: the smallest functions can be CPU-bound while the rest are not,
			// which shows in the throttled share's upper tail, not its median.
			for _, p := range pts {
				if p.Throttled.N > 0 && p.Throttled.P95 > ThrottledExplains && len(p.ByMemory) > 1 {
					why = append(why, fmt.Sprintf("the CPU quota throttled the smallest functions in %s of CFS periods (p95, at %s MB): their client stack, not the network, capped them below their share on this box's CPU",
						pct(p.Throttled.P95), p.Memory()))
					break
				}
			}
		}
	}
	return strings.Join(why, "; ")
}

func mb(bytesPerSec float64) string {
	if math.IsNaN(bytesPerSec) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB/s", bytesPerSec/1e6)
}
func secs(s float64) string { return fmt.Sprintf("%.3g s", s) }
func pct(x float64) string  { return fmt.Sprintf("%.1f %%", 100*x) }
func signed(x float64) string {
	return fmt.Sprintf("%+.0f %%", 100*x)
}

// xName is a point's place on its series' axis, e.g. "128 MB" or "N=8".
func xName(p analyze.Point, axis analyze.Axis) string {
	switch axis {
	case analyze.AxisMemory:
		return fmt.Sprintf("%d MB", p.Trial.MemoryMB[0])
	case analyze.AxisN:
		return fmt.Sprintf("N=%d", p.Trial.N())
	case analyze.AxisObject:
		return fmt.Sprintf("%d MB objects", p.Trial.ObjectMB)
	}
	return p.Memory() + " MB"
}

// listing is "x: value, x: value" over a series.
func listing(s analyze.Series, value func(analyze.Point) string) string {
	parts := make([]string, len(s.Points))
	for i, p := range s.Points {
		parts[i] = xName(p, s.Axis) + " " + value(p)
	}
	return strings.Join(parts, ", ")
}

func medians(ps []analyze.Point, f func(analyze.Point) stats.Stat) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = f(p).Median
	}
	return out
}

// trend reports whether xs moves in one direction (dir +1 up, −1 down) from first to last,
// no step going back by more than stepSlack, and the last beyond the first by minGain.
func trend(xs []float64, dir, stepSlack, minGain float64) bool {
	if len(xs) < 2 || slices.ContainsFunc(xs, math.IsNaN) {
		return false
	}
	for i := 1; i < len(xs); i++ {
		if dir*(xs[i]-xs[i-1]) < -stepSlack*math.Abs(xs[i-1]) {
			return false
		}
	}
	return dir*(xs[len(xs)-1]-xs[0]) > minGain*math.Abs(xs[0])
}

// at finds the point at x on the series' axis.
func at(s analyze.Series, x float64) (analyze.Point, bool) {
	for _, p := range s.Points {
		if p.X(s.Axis) == x {
			return p, true
		}
	}
	return analyze.Point{}, false
}

// pick returns the points at the wanted x values when all exist, else first, middle, last.
func pick(s analyze.Series, want ...float64) []analyze.Point {
	var out []analyze.Point
	for _, x := range want {
		p, ok := at(s, x)
		if !ok {
			n := len(s.Points)
			return []analyze.Point{s.Points[0], s.Points[n/2], s.Points[n-1]}
		}
		out = append(out, p)
	}
	return out
}

// counterOr prefers the counters' number and says when only the clients' is there.
func counterOr(counter, clientStat stats.Stat) (float64, string) {
	if counter.N > 0 {
		return counter.Median, "counters"
	}
	return clientStat.Median, "clients' sum, no counter samples"
}
