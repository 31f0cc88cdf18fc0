// Package plan expands a validated spec into trials. It is pure and deterministic: the same
// spec (and --quick) always gives the same trials in the same order with the same IDs, so a
// resumed run recognises what it already finished.
package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/spec"
	"github.com/faaslab/faaslab/experiments/workload"
)

// Expand returns the spec's trials in run order. The CPU model varies slowest (it is the
// one axis that needs a daemon restart), then policy and NIC queue (a policy switch per
// change), then repetition, so repetitions of one point are spread over the run rather than
// back to back.
func Expand(s *spec.Spec, quick bool) []record.Trial {
	var out []record.Trial
	seen := map[string]bool{}
	parts := s.Resolved(quick)
	for _, cpu := range cpuModels(parts) {
		for _, p := range parts {
			if !slices.Contains(p.CPUModel, cpu) {
				continue
			}
			for _, t := range expandPart(s, p, cpu) {
				if !seen[t.ID] { // e.g. a chunk list under an iperf3 workload
					seen[t.ID] = true
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// cpuModels lists every CPU model the parts use, in first-seen order.
func cpuModels(parts []spec.Part) []string {
	var out []string
	for _, p := range parts {
		for _, c := range p.CPUModel {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func expandPart(s *spec.Spec, p spec.Part, cpu string) []record.Trial {
	var out []record.Trial
	queues := []string(p.NICQueue)
	if len(queues) == 0 {
		queues = []string{""} // the daemon's default
	}
	for _, pol := range p.Policy {
		for _, q := range queues {
			for rep := 1; rep <= *p.Repetitions; rep++ {
				for _, w := range p.Workload {
					for _, mem := range memorySets(p) {
						for _, chunk := range chunks(p, w) {
							out = append(out, trial(s, p, cpu, pol, q, w, mem, chunk, rep))
						}
					}
				}
			}
		}
	}
	return out
}

// memorySets is one memory list (one entry per co-located function) per point: every size
// of memory_mb at every count, or the mix cycled up to every count.
func memorySets(p spec.Part) [][]int {
	var out [][]int
	if len(p.Mix) > 0 {
		for _, n := range p.Counts() {
			m := make([]int, n)
			for i := range m {
				m[i] = p.Mix[i%len(p.Mix)]
			}
			out = append(out, m)
		}
		return out
	}
	for _, size := range p.MemoryMB {
		for _, n := range p.Counts() {
			out = append(out, slices.Repeat([]int{size}, n))
		}
	}
	return out
}

// chunks is the object sizes a workload runs; iperf3 has none.
func chunks(p spec.Part, workload string) []int {
	if isIperf(workload) {
		return []int{0}
	}
	return p.ChunkMB
}

func isIperf(name string) bool {
	w, err := workload.Lookup(name)
	return err == nil && w.Kind == workload.Iperf
}

func trial(s *spec.Spec, p spec.Part, cpu, pol, queue, workload string, mem []int, chunk, rep int) record.Trial {
	ps := s.PolicyOf(pol, queue)
	t := record.Trial{
		Group:      p.Name,
		Policy:     ps.Policy,
		Strict:     ps.Strict,
		NICQueue:   queue,
		CPUModel:   cpu,
		Workload:   workload,
		MemoryMB:   mem,
		Repetition: rep,
	}
	if ps.FixedRate != "" {
		t.Params = map[string]string{"fixed_rate": ps.FixedRate}
	}
	if isIperf(workload) {
		t.Seconds = float64(*p.IperfSeconds)
	} else {
		t.Objects, t.ObjectMB = *p.Objects, chunk
	}
	t.ID = ID(t)
	return t
}

// ID names a trial by what it is, so it is stable across runs and readable in files:
// part/workload/cpu/policy[/queue]/m<sizes>/n<N>[/c<chunk>x<objects>|/t<seconds>]/r<rep>.
func ID(t record.Trial) string {
	pol := t.Policy
	if t.Strict {
		pol += "-strict"
	}
	f := []string{t.Group, t.Workload, t.CPUModel, pol}
	if t.NICQueue != "" {
		f = append(f, t.NICQueue)
	}
	f = append(f, "m"+memoryKey(t.MemoryMB), "n"+strconv.Itoa(t.N()))
	if t.Objects > 0 {
		f = append(f, fmt.Sprintf("c%dx%d", t.ObjectMB, t.Objects))
	} else {
		f = append(f, "t"+strconv.FormatFloat(t.Seconds, 'f', -1, 64))
	}
	return strings.Join(append(f, "r"+strconv.Itoa(t.Repetition)), "/")
}

// memoryKey is 128 for uniform sizes, 128+512+1024+2048 for a mix (its first cycle).
func memoryKey(mem []int) string {
	if len(mem) == 0 {
		return "0"
	}
	var distinct []string
	for _, m := range mem {
		s := strconv.Itoa(m)
		if !slices.Contains(distinct, s) {
			distinct = append(distinct, s)
		}
	}
	return strings.Join(distinct, "+")
}
