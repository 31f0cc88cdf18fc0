// Package analyze turns a recorded run directory into per-point statistics. It is pure: it
// reads only the record.Run it is given, so a report can be recomputed from the files at any
// time without rerunning anything.
package analyze

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faaslab/faaslab/experiments/stats"
	"github.com/faaslab/faaslab/experiments/workload"

	"github.com/faaslab/faaslab/experiments/record"
)

// LambdaPricePerGBs is AWS Lambda's x86 price per GB-second (USD), used only to print a
// dollar figure beside the normalized cost the paper plots.
const LambdaPricePerGBs = 0.0000166667

// PeakWindow is the span over which the counters' peak rate is taken: tick-to-tick rates
// (100 ms) mostly measure how bursts fall between two ticks.
const PeakWindow = time.Second

// ErrNoTrials means the manifest has no plan to analyze.
var ErrNoTrials = errors.New("the manifest lists no trials")

// Analysis is a run reduced to its points, in plan order.
type Analysis struct {
	Spec   string
	RunID  string
	Points []Point
}

// Point is every repetition of one set of trial parameters. Times are seconds, bandwidths
// bytes per second, costs GB-seconds.
type Point struct {
	Key    string       // the parameters, Repetition left out
	Series string       // the parameters that stay fixed along one figure's x axis
	Trial  record.Trial // the first repetition's parameters
	Reps   int          // repetitions with a successful result
	// Missing counts planned repetitions without a successful result.
	Missing     int
	Invocations int // successful invocations
	Errors      int // invocations that did not succeed

	Download   stats.Stat // per invocation: the handler's transfer time (download or upload time)
	Response   stats.Stat // per trial: the whole parallel job, end to end
	Aggregated stats.Stat // per trial: Σ transfer times (the paper's aggregated download time)
	Throttled  stats.Stat // per invocation: throttled CFS periods / periods

	FnBWClient  stats.Stat // per function and trial: Σ bytes / Σ transfer seconds, as the handler saw it
	FnBWCounter stats.Stat // per function and trial: the sandboxes' counters over the transfer window
	AggBWClient stats.Stat // per trial: Σ over functions of FnBWClient
	AggBWMean   stats.Stat // per trial: the uplink counter's bytes over the transfer window
	AggBWPeak   stats.Stat // per trial: the uplink counter's highest rate over any PeakWindow
	Jain        stats.Stat // per trial: Jain's index over per-function bandwidth (counters, else clients)

	BilledGBs stats.Stat // per trial: Σ billed ms × memory
	CostNorm  float64    // median BilledGBs / the series baseline's (its first point)
	CostUSD   float64    // median BilledGBs × LambdaPricePerGBs

	// ByMemory splits the per-function numbers by memory size (mixed co-location).
	ByMemory []MemoryStat
	// PerMBSpread is Spread of (median counter bandwidth / memory) over the memory sizes:
	// 0 when bandwidth is exactly proportional to memory. NaN with a single size.
	PerMBSpread float64
}

// MemoryStat is the per-function numbers of the functions of one memory size.
type MemoryStat struct {
	MemoryMB    int
	FnBWClient  stats.Stat
	FnBWCounter stats.Stat
	Download    stats.Stat
}

// ShareBW is the bandwidth this memory size's functions got while they transferred: the
// host counters for iperf3 (always transferring), the handlers' own rates for object
// workloads. Under a work queue a function idles between items (and once the queue is
// empty), so its counter average over the job says how long it waited, not the share it
// got. The per-MB check, the report's text and the policy figure all use it.
func (m MemoryStat) ShareBW(workload string) stats.Stat {
	if m.FnBWCounter.N == 0 || !Iperf(workload) {
		return m.FnBWClient
	}
	return m.FnBWCounter
}

// Analyze reduces a loaded run to its points.
func Analyze(run *record.Run) (*Analysis, error) {
	if len(run.Manifest.Trials) == 0 {
		return nil, ErrNoTrials
	}
	byTrial := run.ByTrial()

	a := &Analysis{Spec: run.Manifest.Spec, RunID: run.Manifest.RunID}
	index := map[string]int{}
	acc := []*accum{}
	for _, t := range run.Manifest.Trials {
		key := PointKey(t)
		i, ok := index[key]
		if !ok {
			i = len(acc)
			index[key] = i
			acc = append(acc, &accum{point: Point{Key: key, Series: SeriesKey(t), Trial: t}})
		}
		tr := byTrial[t.ID]
		if tr == nil {
			tr = &record.TrialRecords{}
		}
		res, ok := lastSuccess(tr.Results)
		if !ok {
			acc[i].point.Missing++
			continue
		}
		acc[i].add(t, res, trialInvocations(tr.Invocations, res, len(tr.Results) > 1), tr.Samples)
	}
	baseline := map[string]float64{}
	for _, ac := range acc {
		p := ac.finish()
		if _, ok := baseline[p.Series]; !ok {
			baseline[p.Series] = p.BilledGBs.Median
		}
		p.CostNorm = p.BilledGBs.Median / baseline[p.Series]
		a.Points = append(a.Points, p)
	}
	return a, nil
}

// PointKey names a trial's parameters without its repetition.
func PointKey(t record.Trial) string {
	return SeriesKey(t) + fmt.Sprintf("|mem=%s|objects=%d|object_mb=%d|seconds=%g",
		joinInts(t.MemoryMB, "+"), t.Objects, t.ObjectMB, t.Seconds)
}

// SeriesKey names what stays fixed along a figure's x axis (memory, N or object size vary).
func SeriesKey(t record.Trial) string {
	var b strings.Builder
	fmt.Fprintf(&b, "group=%s|policy=%s|strict=%t|nic=%s|cpu=%s|workload=%s", t.Group, t.Policy, t.Strict, t.NICQueue, t.CPUModel, t.Workload)
	keys := make([]string, 0, len(t.Params))
	for k := range t.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "|%s=%s", k, t.Params[k])
	}
	return b.String()
}

// Upload reports whether a workload sends from the function (iperf3-up, s3put…): its
// counters are then the upload direction. The workloads are named in one place
// (workload.Lookup); an unknown name is not an upload.
func Upload(name string) bool {
	w, err := workload.Lookup(name)
	return err == nil && w.Sends()
}

// Iperf reports whether a workload is the iperf3 micro-benchmark (one timed transfer per
// function) rather than an object work queue.
func Iperf(name string) bool {
	w, err := workload.Lookup(name)
	return err == nil && w.Kind == workload.Iperf
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

// lastSuccess is the trial's last result without an error (a resumed run may hold an
// earlier failed attempt).
func lastSuccess(rs []record.TrialResult) (record.TrialResult, bool) {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Error == "" {
			return rs[i], true
		}
	}
	return record.TrialResult{}, false
}

// trialInvocations keeps the invocations of the successful attempt. Only when a trial was
// attempted more than once are they told apart by time (the attempt's window, 50 ms slack
// for clock rounding); otherwise all of the trial's invocations count.
func trialInvocations(invs []record.Invocation, res record.TrialResult, retried bool) []record.Invocation {
	if !retried || res.StartedAt.IsZero() || res.FinishedAt.IsZero() {
		return invs
	}
	const slack = 50 * time.Millisecond
	var out []record.Invocation
	for _, inv := range invs {
		if !inv.StartedAt.Before(res.StartedAt.Add(-slack)) && !inv.FinishedAt.After(res.FinishedAt.Add(slack)) {
			out = append(out, inv)
		}
	}
	return out
}
