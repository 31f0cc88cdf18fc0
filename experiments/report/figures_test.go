package report

import (
	"testing"

	"github.com/faaslab/faaslab/experiments/analyze"
	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/stats"
)

// The policy figure plots the bandwidth the per-MB check judges: the handlers' own rates
// for an object work queue, the counters for iperf3 (it plotted counters for both).
func TestPolicyFigurePlotsTheJudgedBandwidth(t *testing.T) {
	mem := []analyze.MemoryStat{{MemoryMB: 1024,
		FnBWCounter: stats.Stat{N: 4, Median: 1e6}, FnBWClient: stats.Stat{N: 4, Median: 5e6}}}
	for workload, want := range map[string]float64{"s3get": 5, "iperf3-down": 1} {
		p := analyze.Point{Trial: record.Trial{Policy: "proportional", Workload: workload}, ByMemory: mem}
		if f := policyFigure(p); len(f.Bars) != 1 || f.Bars[0] != want {
			t.Errorf("%s: bars %v MB/s, want %v", workload, f.Bars, want)
		}
	}
}
