package report

import (
	"fmt"
	"github.com/faaslab/faaslab/experiments/stats"
	"strings"

	"github.com/faaslab/faaslab/experiments/analyze"
)

// figures lays the analysis out as the paper's figures: one or two per series.
func figures(a *analyze.Analysis) []Figure {
	var out []Figure
	for _, s := range a.Series() {
		t := s.Points[0].Trial
		label := Label(t)
		xl := map[analyze.Axis]string{analyze.AxisMemory: "memory (MB)", analyze.AxisN: "co-located functions N",
			analyze.AxisObject: "object size (MB)"}[s.Axis]
		labels := make([]string, len(s.Points))
		for i, p := range s.Points {
			labels[i] = strings.TrimSuffix(strings.TrimPrefix(xName(p, s.Axis), "N="), " MB")
			labels[i] = strings.TrimSuffix(labels[i], " MB objects")
		}
		what := transferWord(t.Workload)
		bar := func(title, barsLabel string, stat func(analyze.Point) stats.Stat, scale float64, lineLabel string, line func(analyze.Point) float64) Figure {
			f := Figure{Title: title, XLabel: xl, Labels: labels, BarsLabel: barsLabel, LineLabel: lineLabel}
			for _, p := range s.Points {
				st := stat(p)
				f.Bars = append(f.Bars, st.Median/scale)
				f.Low = append(f.Low, st.P5/scale)
				f.High = append(f.High, st.P95/scale)
				if line != nil {
					f.Line = append(f.Line, line(p))
				}
			}
			return f
		}
		bwClient := func(p analyze.Point) stats.Stat { return p.FnBWClient }
		download := func(p analyze.Point) stats.Stat { return p.Download }
		response := func(p analyze.Point) stats.Stat { return p.Response }
		cost := func(p analyze.Point) float64 { return p.CostNorm }
		aggregate := func(p analyze.Point) float64 { v, _ := counterOr(p.AggBWMean, p.AggBWClient); return v / 1e6 }
		switch kind(s) {
		case "fig2":
			out = append(out, bar("Fig. 2 "+label+": iperf3 bandwidth vs memory", "bandwidth (MB/s)", bwClient, 1e6,
				"CPU throttled (% of periods)", func(p analyze.Point) float64 { return 100 * p.Throttled.Median }))
		case "fig3":
			out = append(out, bar("Fig. 3 "+label+": object size", what+" time (s)", download, 1,
				"bandwidth (MB/s)", func(p analyze.Point) float64 { return p.FnBWClient.Median / 1e6 }))
		case "fig4":
			out = append(out,
				bar("Fig. 4 "+label+": "+what+" time vs memory", what+" time (s)", download, 1,
					"bandwidth (MB/s)", func(p analyze.Point) float64 { return p.FnBWClient.Median / 1e6 }),
				bar("Fig. 4c "+label+": response time and cost", "response time (s)", response, 1, "normalized cost", cost))
		case "fig5":
			out = append(out, bar("Fig. 5 "+label+": co-located iperf3", "per-function bandwidth (MB/s)",
				func(p analyze.Point) stats.Stat {
					if p.FnBWCounter.N > 0 {
						return p.FnBWCounter
					}
					return p.FnBWClient
				}, 1e6, "aggregate (MB/s)", aggregate))
		case "fig6":
			out = append(out,
				bar("Fig. 6 "+label+": "+what+" time vs N", what+" time (s)", download, 1, "aggregate (MB/s)", aggregate),
				bar("Fig. 7 "+label+": response time and cost", "response time (s)", response, 1, "normalized cost", cost))
		case "policy":
			for _, p := range s.Points {
				out = append(out, policyFigure(p))
			}
		}
	}
	for i := range out {
		out[i].Name = fmt.Sprintf("fig-%02d-%s", i+1, slug(out[i].Title))
	}
	return out
}

// policyFigure shows one mixed co-location: bandwidth per memory size, and per GB.
func policyFigure(p analyze.Point) Figure {
	f := Figure{Title: "policies " + Label(p.Trial) + ": bandwidth by memory", XLabel: "memory (MB)",
		BarsLabel: "per-function bandwidth (MB/s)", LineLabel: "MB/s per GB of memory"}
	for _, m := range p.ByMemory {
		st := m.ShareBW(p.Trial.Workload) // what the per-MB check judges
		f.Labels = append(f.Labels, fmt.Sprint(m.MemoryMB))
		f.Bars, f.Low, f.High = append(f.Bars, st.Median/1e6), append(f.Low, st.P5/1e6), append(f.High, st.P95/1e6)
		f.Line = append(f.Line, st.Median/1e6/(float64(m.MemoryMB)/1024))
	}
	return f
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
