package analyze

import (
	"github.com/faaslab/faaslab/experiments/stats"
	"math"
	"slices"
	"time"

	"github.com/faaslab/faaslab/experiments/record"
)

// accum gathers one point's values over its repetitions.
type accum struct {
	point                                             Point
	download, throttled, fnClient, fnCounter          []float64
	response, aggregated, aggClient, aggMean, aggPeak []float64
	jain, billed                                      []float64
	memOrder                                          []int
	memClient, memCounter, memDownload                map[int][]float64
}

// function is one co-located function's share of a trial.
type function struct {
	memMB         int
	bytes         int64
	seconds       float64
	bitsPerSec    []float64
	counterBytes  float64
	hasCounter    bool
	invocationsOK int
}

func (a *accum) add(t record.Trial, res record.TrialResult, invs []record.Invocation, samples []record.Sample) {
	p := &a.point
	p.Reps++
	a.response = append(a.response, res.ResponseSeconds)

	fns := map[int]*function{}
	var aggregated, billedGBs float64
	for _, inv := range invs {
		mem := memoryOf(inv, t)
		billedGBs += billedSeconds(inv) * float64(mem) / 1024
		if inv.Status != "ok" {
			p.Errors++
			continue
		}
		p.Invocations++
		d := transferSeconds(inv)
		aggregated += d
		a.download = append(a.download, d)
		a.addMem(mem, &a.memDownload, d)
		if inv.NrPeriods > 0 {
			a.throttled = append(a.throttled, float64(inv.ThrottledPeriods)/float64(inv.NrPeriods))
		}
		f := fns[inv.Worker]
		if f == nil {
			f = &function{memMB: mem}
			fns[inv.Worker] = f
		}
		f.invocationsOK++
		f.bytes += inv.Bytes
		f.seconds += d
		if inv.BitsPerSec > 0 {
			f.bitsPerSec = append(f.bitsPerSec, inv.BitsPerSec)
		}
	}
	a.aggregated = append(a.aggregated, aggregated)
	a.billed = append(a.billed, billedGBs)

	start, end := window(res, invs)
	c := countTraffic(samples, invs, start, end, Upload(t.Workload))
	for w, bytes := range c.perWorker {
		if f := fns[w]; f != nil {
			f.counterBytes, f.hasCounter = bytes, true
		}
	}
	if c.ok {
		a.aggMean = append(a.aggMean, c.uplinkBytes/c.seconds)
		a.aggPeak = append(a.aggPeak, c.peak)
	}

	workers := make([]int, 0, len(fns))
	for w := range fns {
		workers = append(workers, w)
	}
	slices.Sort(workers)
	var clientSum float64
	var fair []float64
	for _, w := range workers {
		f := fns[w]
		cr := f.clientRate()
		a.fnClient = append(a.fnClient, cr)
		a.addMem(f.memMB, &a.memClient, cr)
		if !math.IsNaN(cr) {
			clientSum += cr
		}
		fair = append(fair, cr)
		if c.ok {
			// A function whose sandbox the counters never saw moved nothing through them.
			rate := f.counterBytes / c.seconds
			a.fnCounter = append(a.fnCounter, rate)
			a.addMem(f.memMB, &a.memCounter, rate)
			fair[len(fair)-1] = rate
		}
	}
	if len(workers) > 0 {
		a.aggClient = append(a.aggClient, clientSum)
		a.jain = append(a.jain, stats.Jain(fair))
	}
}

func (a *accum) addMem(mem int, m *map[int][]float64, v float64) {
	if *m == nil {
		*m = map[int][]float64{}
	}
	if !slices.Contains(a.memOrder, mem) {
		a.memOrder = append(a.memOrder, mem)
	}
	(*m)[mem] = append((*m)[mem], v)
}

func (a *accum) finish() Point {
	p := a.point
	p.Download, p.Response, p.Aggregated = stats.Describe(a.download), stats.Describe(a.response), stats.Describe(a.aggregated)
	p.Throttled = stats.Describe(a.throttled)
	p.FnBWClient, p.FnBWCounter = stats.Describe(a.fnClient), stats.Describe(a.fnCounter)
	p.AggBWClient, p.AggBWMean, p.AggBWPeak = stats.Describe(a.aggClient), stats.Describe(a.aggMean), stats.Describe(a.aggPeak)
	p.Jain, p.BilledGBs = stats.Describe(a.jain), stats.Describe(a.billed)
	p.CostUSD = p.BilledGBs.Median * LambdaPricePerGBs
	slices.Sort(a.memOrder)
	var perMB []float64
	for _, mem := range a.memOrder {
		ms := MemoryStat{MemoryMB: mem, FnBWClient: stats.Describe(a.memClient[mem]),
			FnBWCounter: stats.Describe(a.memCounter[mem]), Download: stats.Describe(a.memDownload[mem])}
		p.ByMemory = append(p.ByMemory, ms)
		bw := ms.ShareBW(p.Trial.Workload)
		if mem > 0 && bw.N > 0 {
			perMB = append(perMB, bw.Median/float64(mem))
		}
	}
	p.PerMBSpread = math.NaN()
	if len(perMB) > 1 {
		p.PerMBSpread = stats.Spread(perMB)
	}
	return p
}

// clientRate is the function's bandwidth as its handler measured it: Σ bytes / Σ transfer
// seconds, or the mean of the reported rates when bytes are not reported (iperf3).
func (f *function) clientRate() float64 {
	if f.bytes > 0 && f.seconds > 0 {
		return float64(f.bytes) / f.seconds
	}
	if len(f.bitsPerSec) > 0 {
		var s float64
		for _, b := range f.bitsPerSec {
			s += b
		}
		return s / float64(len(f.bitsPerSec)) / 8
	}
	return math.NaN()
}

func memoryOf(inv record.Invocation, t record.Trial) int {
	if inv.MemoryMB > 0 {
		return inv.MemoryMB
	}
	if inv.Worker >= 0 && inv.Worker < len(t.MemoryMB) {
		return t.MemoryMB[inv.Worker]
	}
	return 0
}

// transferSeconds is the handler's own transfer time, else the daemon's duration, else the
// client's wall time.
func transferSeconds(inv record.Invocation) float64 {
	switch {
	case inv.Seconds > 0:
		return inv.Seconds
	case inv.DurationMs > 0:
		return inv.DurationMs / 1000
	default:
		return inv.FinishedAt.Sub(inv.StartedAt).Seconds()
	}
}

// billedSeconds is the daemon's billed duration, else the duration rounded up to the
// millisecond as Lambda bills it.
func billedSeconds(inv record.Invocation) float64 {
	switch {
	case inv.BilledDurationMs > 0:
		return float64(inv.BilledDurationMs) / 1000
	case inv.DurationMs > 0:
		return math.Ceil(inv.DurationMs) / 1000
	default:
		return math.Ceil(transferSeconds(inv)*1000) / 1000
	}
}

// window is the trial's transfer window: the barrier's release to the last answer, or the
// invocations' span when the result carries no times.
func window(res record.TrialResult, invs []record.Invocation) (time.Time, time.Time) {
	if !res.StartedAt.IsZero() && res.FinishedAt.After(res.StartedAt) {
		return res.StartedAt, res.FinishedAt
	}
	var start, end time.Time
	for _, inv := range invs {
		if start.IsZero() || inv.StartedAt.Before(start) {
			start = inv.StartedAt
		}
		if inv.FinishedAt.After(end) {
			end = inv.FinishedAt
		}
	}
	return start, end
}
