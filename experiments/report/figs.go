package report

import (
	"fmt"
	"github.com/faaslab/faaslab/experiments/stats"
	"math"
	"strings"

	"github.com/faaslab/faaslab/experiments/analyze"
)

// fig2: iperf3 bandwidth does not depend on memory (~70 MB/s at 128 MB).
func (e *evaluation) fig2(s analyze.Series) {
	t := s.Points[0].Trial
	fig, label := figureName("Fig. 2", t), Label(t)
	bw, spread := e.flatBandwidth(s, fig, label, "memory", FlatSpread)
	e.row(fig, label+": bandwidth at "+xName(s.Points[0], s.Axis), "≈ 70 MB/s", mb(bw[0]))
	e.row(fig, label+": across memory", "flat", "spread "+pct(spread))
}

// fig3: object size has no noticeable effect on bandwidth (1024 MB).
func (e *evaluation) fig3(s analyze.Series) {
	t := s.Points[0].Trial
	fig, label := figureName("Fig. 3", t), Label(t)
	_, spread := e.flatBandwidth(s, fig, label, "object sizes", ChunkSpread)
	e.row(fig, label+": bandwidth across object sizes", "no noticeable effect", "spread "+pct(spread))
}

// flatBandwidth checks that the function's bandwidth varies by at most limit (spread)
// across the series' x values (across names them) and returns the medians and spread.
func (e *evaluation) flatBandwidth(s analyze.Series, fig, label, across string, limit float64) (bw []float64, spread float64) {
	bw = medians(s.Points, func(p analyze.Point) stats.Stat { return p.FnBWClient })
	spread = stats.Spread(bw)
	e.add(fmt.Sprintf("%s %s: bandwidth flat across %s", fig, label, across), spread <= limit,
		fmt.Sprintf("spread %s (≤ %s); %s", pct(spread), pct(limit), listing(s, func(p analyze.Point) string { return mb(p.FnBWClient.Median) })),
		s.Points, true)
	return bw, spread
}

// fig4: transfer time falls with memory, 128 → 256 MB roughly halves it; response time
// falls while the normalized cost rises.
func (e *evaluation) fig4(s analyze.Series) {
	t := s.Points[0].Trial
	fig, label := figureName("Fig. 4", t), Label(t)
	what := transferWord(t.Workload)
	times := medians(s.Points, func(p analyze.Point) stats.Stat { return p.Download })
	e.add(fmt.Sprintf("%s %s: %s time falls with memory", fig, label, what), trend(times, -1, MonotoneSlack, MonotoneSlack),
		"median "+listing(s, func(p analyze.Point) string { return secs(p.Download.Median) }), s.Points, false)

	p128, ok1 := at(s, 128)
	p256, ok2 := at(s, 256)
	if !ok1 || !ok2 {
		p128, p256 = s.Points[0], s.Points[min(1, len(s.Points)-1)]
	}
	ratio := p256.Download.Median / p128.Download.Median
	e.add(fmt.Sprintf("%s %s: %s → %s roughly halves the %s time", fig, label, xName(p128, s.Axis), xName(p256, s.Axis), what),
		ratio >= HalvingLow && ratio <= HalvingHigh,
		fmt.Sprintf("ratio %.2f (band %.2f–%.2f): %s → %s", ratio, HalvingLow, HalvingHigh, secs(p128.Download.Median), secs(p256.Download.Median)),
		[]analyze.Point{p128, p256}, false)

	first, last := s.Points[0], s.Points[len(s.Points)-1]
	e.add(fmt.Sprintf("%s %s: response time falls with memory while normalized cost rises", fig, label),
		last.Response.Median < first.Response.Median && last.CostNorm > 1,
		fmt.Sprintf("response %s → %s, normalized cost 1 → %.2f (%s → %s)", secs(first.Response.Median), secs(last.Response.Median),
			last.CostNorm, xName(first, s.Axis), xName(last, s.Axis)), s.Points, false)

	if !analyze.Upload(t.Workload) {
		e.row(fig, label+": S3 download bandwidth at "+xName(first, s.Axis), "9.5 MB/s", mb(first.FnBWClient.Median))
	}
	e.row(fig, label+": "+what+" time "+xName(p128, s.Axis)+" → "+xName(p256, s.Axis), "halved (×0.5)", fmt.Sprintf("×%.2f", ratio))
	if a, ok := at(s, 1024); ok {
		if b, ok := at(s, 2048); ok {
			e.row(fig, label+": 1024 → 2048 MB response time / cost", "−25 % / +68 %",
				signed(b.Response.Median/a.Response.Median-1)+" / "+signed(b.CostNorm/a.CostNorm-1))
			if c, ok := at(s, 3008); ok {
				e.row(fig, label+": 2048 → 3008 MB response time", "little gain", signed(c.Response.Median/b.Response.Median-1))
			}
		}
	}
}

func transferWord(workload string) string {
	if analyze.Upload(workload) {
		return "upload"
	}
	return "download"
}

// fig5: the counters' aggregate stays flat across N while the per-function median falls
// as aggregate/N.
func (e *evaluation) fig5(s analyze.Series) {
	t := s.Points[0].Trial
	fig, label := figureName("Fig. 5", t), Label(t)
	pts := pick(s, 1, 8, 26)
	aggs := make([]float64, len(pts))
	var src string
	var parts []string
	for i, p := range pts {
		aggs[i], src = counterOr(p.AggBWMean, p.AggBWClient)
		parts = append(parts, fmt.Sprintf("%s %s (clients' sum %s)", xName(p, s.Axis), mb(aggs[i]), mb(p.AggBWClient.Median)))
	}
	lo, hi := minMax(aggs)
	e.add(fmt.Sprintf("%s %s: aggregate bandwidth flat across N", fig, label), hi/lo-1 <= AggregateFlat,
		fmt.Sprintf("max/min %s (≤ %s, %s): %s", signed(hi/lo-1), signed(AggregateFlat), src, strings.Join(parts, ", ")), pts, true)

	last := s.Points[len(s.Points)-1]
	agg, _ := counterOr(last.AggBWMean, last.AggBWClient)
	fn, fnSrc := counterOr(last.FnBWCounter, last.FnBWClient)
	share := agg / float64(last.Trial.N())
	ratio := fn / share
	detail := fmt.Sprintf("median %s vs fair share %s: ×%.2f (1 ± %.2f, %s); Jain %.3f", mb(fn), mb(share), ratio, FairShareBand, fnSrc, last.Jain.Median)
	if t.NICQueue == "fifo" {
		// The drop-tail FIFO is the explicit non-default NIC model: shown, not held to the
		// paper's per-flow sharing.
		e.row(fig, label+": drop-tail FIFO sharing at "+xName(last, s.Axis), "real NICs share per flow", detail)
	} else {
		e.add(fmt.Sprintf("%s %s: per-function median near aggregate/N at %s", fig, label, xName(last, s.Axis)),
			math.Abs(ratio-1) <= FairShareBand, detail, []analyze.Point{last}, true)
	}
	e.row(fig, label+": aggregate bandwidth across N", "constant (the NIC)", fmt.Sprintf("%s – %s", mb(lo), mb(hi)))
	e.row(fig, label+": per-function median at "+xName(last, s.Axis), "≈ aggregate/N", fmt.Sprintf("%s (fair share %s, Jain %.2f)", mb(fn), mb(share), last.Jain.Median))
}

// fig6: per-download time grows with N; N = 1 has the lowest aggregate bandwidth.
func (e *evaluation) fig6(s analyze.Series) {
	t := s.Points[0].Trial
	fig, label := figureName("Fig. 6", t), Label(t)
	what := transferWord(t.Workload)
	times := medians(s.Points, func(p analyze.Point) stats.Stat { return p.Download })
	e.add(fmt.Sprintf("%s %s: %s time grows with N", fig, label, what), trend(times, +1, CPUBoundSpread, GrowsWithN),
		"median "+listing(s, func(p analyze.Point) string { return secs(p.Download.Median) }), s.Points, false)
	aggs := make([]float64, len(s.Points))
	for i, p := range s.Points {
		aggs[i], _ = counterOr(p.AggBWMean, p.AggBWClient)
	}
	lo, _ := minMax(aggs[1:])
	e.add(fmt.Sprintf("%s %s: aggregate bandwidth lowest at %s", fig, label, xName(s.Points[0], s.Axis)),
		len(aggs) > 1 && aggs[0] <= lo*(1+MonotoneSlack),
		"aggregate "+listing(s, func(p analyze.Point) string { v, _ := counterOr(p.AggBWMean, p.AggBWClient); return mb(v) }),
		s.Points, false)
	first, last := s.Points[0], s.Points[len(s.Points)-1]
	e.row(fig, label+": "+what+" time "+xName(first, s.Axis)+" → "+xName(last, s.Axis), "shortest at N=1, grows with N",
		secs(first.Download.Median)+" → "+secs(last.Download.Median))
	a0, _ := counterOr(first.AggBWMean, first.AggBWClient)
	a1, _ := counterOr(last.AggBWMean, last.AggBWClient)
	e.row(fig, label+": aggregate bandwidth", "lowest at N=1, grows with N", mb(a0)+" → "+mb(a1))
}

// fig7: response time falls with N but stops improving at 16–26 while the cost rises.
func (e *evaluation) fig7(s analyze.Series) {
	t := s.Points[0].Trial
	fig, label := figureName("Fig. 7", t), Label(t)
	first, last := s.Points[0], s.Points[len(s.Points)-1]
	e.add(fmt.Sprintf("%s %s: response time falls with N", fig, label), last.Response.Median < first.Response.Median,
		"median response "+listing(s, func(p analyze.Point) string { return secs(p.Response.Median) }), s.Points, false)
	a, ok1 := at(s, 16)
	b, ok2 := at(s, 26)
	if !ok1 || !ok2 {
		a, b = s.Points[max(0, len(s.Points)-2)], last
	}
	gain := 1 - b.Response.Median/a.Response.Median
	rise := b.CostNorm/a.CostNorm - 1
	e.add(fmt.Sprintf("%s %s: response time stops improving at %s–%s while cost rises", fig, label, xName(a, s.Axis), xName(b, s.Axis)),
		gain < NoGain && rise > 0,
		fmt.Sprintf("response %s → %s (gain %s, < %s), normalized cost %.2f → %.2f (%s)", secs(a.Response.Median), secs(b.Response.Median),
			pct(gain), pct(NoGain), a.CostNorm, b.CostNorm, signed(rise)), []analyze.Point{a, b}, false)
	e.row(fig, label+": response time "+xName(a, s.Axis)+" → "+xName(b, s.Axis), "almost no gain", signed(-gain))
	e.row(fig, label+": cost "+xName(a, s.Axis)+" → "+xName(b, s.Axis), "≈ +20 %", signed(rise))
}

// policies: proportional shares bandwidth in proportion to memory; equal shares it equally.
func (e *evaluation) policies(s analyze.Series) {
	for _, p := range s.Points {
		t := p.Trial
		label := Label(t) + " " + p.Memory() + " MB"
		queue := !analyze.Iperf(t.Workload) // a work queue: see analyze.MemoryStat.ShareBW
		perMB := make([]string, len(p.ByMemory))
		for i, m := range p.ByMemory {
			bw := m.ShareBW(t.Workload).Median
			perMB[i] = fmt.Sprintf("%d MB %s (%.2f MB/s per GB)", m.MemoryMB, mb(bw), bw/1e6/(float64(m.MemoryMB)/1024))
		}
		detail := fmt.Sprintf("per-MB spread %s, Jain %.3f; %s", pct(p.PerMBSpread), p.Jain.Median, strings.Join(perMB, ", "))
		switch t.Policy {
		case "proportional":
			if queue && !t.Strict {
				// Work-conserving by design: when the queue leaves some functions idle, the
				// others get their share; per-function rates then follow the queue, not memory.
				e.row("policies", label+" (work-conserving, work queue: not checked)", "shares ∝ memory while all transfer", detail)
				continue
			}
			e.add("policies "+label+": bandwidth ∝ memory", p.PerMBSpread <= ProportionalBand,
				fmt.Sprintf("spread of bandwidth per MB %s (≤ %s); %s", pct(p.PerMBSpread), pct(ProportionalBand), detail), []analyze.Point{p}, true)
		case "equal":
			e.add("policies "+label+": equal shares", p.Jain.Median >= EqualJain,
				fmt.Sprintf("Jain %.3f (≥ %.2f); %s", p.Jain.Median, EqualJain, detail), []analyze.Point{p}, true)
		}
		e.row("policies", label, "the paper recommends shares ∝ memory (not measured there)", detail)
	}
}

// today: do the paper's conclusions (fig4, fig6) still hold under today's Lambda CPU rule?
func (e *evaluation) today() {
	var lambda, failed []string
	for _, c := range e.checks {
		if strings.Contains(c.Name, " cpu lambda") {
			lambda = append(lambda, c.Name)
			if !c.Pass {
				failed = append(failed, c.Name)
			}
		}
	}
	if len(lambda) == 0 {
		return
	}
	detail := fmt.Sprintf("%d of %d checks pass under cpu_model lambda", len(lambda)-len(failed), len(lambda))
	if len(failed) > 0 {
		detail += "; not: " + strings.Join(failed, "; ")
	}
	e.add("today: the paper's conclusions still hold under cpu_model lambda", len(failed) == 0, detail, nil, false)
	e.row("today", "conclusions under cpu_model lambda (1 vCPU per 1,769 MB)", "paper: CPU ∝ memory on a c3.large", detail)
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
