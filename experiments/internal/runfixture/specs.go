package runfixture

import (
	"fmt"

	"github.com/faaslab/faaslab/experiments/analyze"
	"github.com/faaslab/faaslab/experiments/record"
)

// paperMemoryMB is the paper's six memory sizes.
func paperMemoryMB() []int { return []int{128, 256, 512, 1024, 2048, 3008} }

// Plan returns a small plan shaped like the built-in spec's: fig2, fig3, fig4, fig5, fig6,
// fig7, policies or today.
func Plan(spec string) []record.Trial {
	var p plan
	switch spec {
	case "fig2":
		for _, g := range []string{"up", "down"} {
			for _, m := range paperMemoryMB() {
				p.add(3, record.Trial{Group: g + "load", Workload: "iperf3-" + g, MemoryMB: []int{m}, Seconds: 1.5})
			}
		}
	case "fig3":
		for _, mb := range []int{10, 20, 50, 100} {
			p.add(2, record.Trial{Group: "download", Workload: "s3get", MemoryMB: []int{1024}, Objects: 4, ObjectMB: mb})
		}
	case "fig4":
		p.memorySeries("paper", 2)
	case "fig5":
		for _, n := range []int{1, 2, 8, 26} {
			p.add(2, record.Trial{Workload: "iperf3-down", MemoryMB: same(n, 128), Seconds: 1.5})
		}
	case "fig6":
		p.nSeries("paper", 1)
	case "fig7":
		// The paper's 100 × 10 MB: with fewer items the work queue's last round decides.
		for _, n := range []int{1, 4, 16, 26} {
			p.add(1, record.Trial{Workload: "s3get", MemoryMB: same(n, 128), Objects: 100, ObjectMB: 10})
		}
	case "policies":
		for _, pol := range []string{"none", "equal", "proportional", "priority"} {
			p.add(2, record.Trial{Group: "iperf3", Policy: pol, Workload: "iperf3-down", MemoryMB: []int{128, 512, 1024, 2048}, Seconds: 1.5})
		}
	case "today":
		for _, cpu := range []string{"paper", "lambda"} {
			p.memorySeries(cpu, 1)
			p.nSeries(cpu, 1)
		}
	default:
		panic("runfixture: no plan for " + spec)
	}
	for i := range p {
		t := &p[i]
		if t.Policy == "" {
			t.Policy = "none"
		}
		if t.CPUModel == "" {
			t.CPUModel = "paper"
		}
		t.NICQueue = "fair"
		t.ID = fmt.Sprintf("%s/%s/%s/%s/%s/m%d/n%d/o%dx%d/r%d", spec, t.Group, t.Policy, t.CPUModel, t.Workload,
			t.MemoryMB[0], t.N(), t.Objects, t.ObjectMB, t.Repetition)
	}
	return p
}

type plan []record.Trial

func (p *plan) add(reps int, t record.Trial) {
	for r := range reps {
		t.Repetition = r
		*p = append(*p, t)
	}
}

func (p *plan) memorySeries(cpu string, reps int) {
	for _, m := range paperMemoryMB() {
		p.add(reps, record.Trial{Group: "fig4-download", CPUModel: cpu, Workload: "s3get", MemoryMB: []int{m}, Objects: 12, ObjectMB: 10})
	}
}

func (p *plan) nSeries(cpu string, reps int) {
	for _, n := range []int{1, 2, 4, 8, 16, 26} {
		p.add(reps, record.Trial{Group: "fig6", CPUModel: cpu, Workload: "s3get", MemoryMB: same(n, 128), Objects: 52, ObjectMB: 2})
	}
}

func same(n, mem int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = mem
	}
	return m
}

// cpus is a function's CPU quota under a CPU model: the paper's c3.large share or today's
// Lambda rule (1 vCPU per 1,769 MB).
func cpus(mem int, model string) float64 {
	if model == "lambda" {
		return float64(mem) / 1769
	}
	return 2 * float64(mem) / 3008
}

// perCPU is what one CPU of client stack moves: 9.5 MB/s at the paper's 128 MB share.
const perCPU = 9.5e6 / (2 * 128.0 / 3008)

func jitter(w int) float64 { return 1 + 0.01*float64(w%3-1) }

// Paper follows the paper's findings: a fair NIC shared per flow, object transfers bounded
// by the CPU quota with a little contention per co-located function, and the shaping
// policies doing what they promise.
func Paper(t record.Trial, w int) float64 {
	n := float64(t.N())
	if analyze.Iperf(t.Workload) {
		if mixed(t.MemoryMB) {
			return policyShare(t, w)
		}
		return NIC / n * jitter(w)
	}
	limit := perCPU * cpus(t.MemoryMB[w], t.CPUModel) / (1 + 0.02*(n-1))
	return min(limit, NIC/n) * jitter(w)
}

func policyShare(t record.Trial, w int) float64 {
	var total, weight float64
	for i, m := range t.MemoryMB {
		x := 1.0
		switch t.Policy {
		case "proportional":
			x = float64(m)
		case "none", "priority":
			x = float64((i + 1) * (i + 1)) // a FIFO favours whoever fills the queue first
		}
		total += x
		if i == w {
			weight = x
		}
	}
	return NIC * weight / total
}

// Broken violates every trend: bandwidth rises with memory under iperf3, the aggregate grows
// with N, object transfers ignore memory and co-location, and the policies swap their
// behaviours.
func Broken(t record.Trial, w int) float64 {
	switch {
	case analyze.Iperf(t.Workload) && mixed(t.MemoryMB):
		swapped := t
		swapped.Policy = map[string]string{"equal": "none", "proportional": "equal"}[t.Policy]
		return policyShare(swapped, w)
	case analyze.Iperf(t.Workload) && t.N() == 1:
		return min(20e6*float64(t.MemoryMB[0])/128, NIC)
	case analyze.Iperf(t.Workload):
		return 9e6
	default:
		return 9.5e6
	}
}

func mixed(mem []int) bool {
	for _, m := range mem {
		if m != mem[0] {
			return true
		}
	}
	return false
}
