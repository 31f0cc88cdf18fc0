package analyze

import (
	"slices"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/record"
)

// traffic is what the host counters carried during one trial's transfer window.
type traffic struct {
	ok          bool
	seconds     float64         // the window's length
	uplinkBytes float64         // bytes through the emulated NIC (Σ over hosts)
	peak        float64         // highest uplink rate over any PeakWindow, bytes/s (Σ over hosts)
	perWorker   map[int]float64 // bytes through each function's sandboxes
}

// countTraffic measures the window [start, end] with the samples that bracket it: the last
// sample at or before start and the first at or after end, so every byte of the transfers is
// counted; the rate divides by the window itself, not by the wider sample span. Counters
// that go backwards (a sandbox re-attached) count from zero again, like Prometheus' increase.
// Sandboxes are matched to functions by the invocations' sandbox IDs, else by function name.
func countTraffic(samples []record.Sample, invs []record.Invocation, start, end time.Time, upload bool) traffic {
	t := traffic{perWorker: map[int]float64{}}
	if len(samples) < 2 || !end.After(start) {
		return t
	}
	t.seconds = end.Sub(start).Seconds()
	bySandbox, byFunction := map[string]int{}, map[string]int{}
	for _, inv := range invs {
		if inv.SandboxID != "" {
			bySandbox[inv.SandboxID] = inv.Worker
		}
		if inv.Function != "" {
			byFunction[inv.Function] = inv.Worker
		}
	}
	hosts := map[string][]client.NetworkSample{}
	var order []string
	for _, s := range samples {
		if _, ok := hosts[s.Host]; !ok {
			order = append(order, s.Host)
		}
		hosts[s.Host] = append(hosts[s.Host], s.Sample)
	}
	for _, h := range order {
		ss := hosts[h]
		slices.SortStableFunc(ss, func(a, b client.NetworkSample) int { return a.Time.Compare(b.Time) })
		ss = bracket(ss, start, end)
		if len(ss) < 2 {
			continue
		}
		t.ok = true
		dir := func(tr client.Traffic) float64 {
			if upload {
				return float64(tr.UploadBytes)
			}
			return float64(tr.DownloadBytes)
		}
		up := make([]float64, len(ss))
		for i, s := range ss {
			up[i] = dir(s.Uplink)
		}
		t.uplinkBytes += increase(up)
		t.peak += peakRate(ss, up, increase(up)/t.seconds)
		for id := range sandboxIDs(ss) {
			vals := make([]float64, 0, len(ss))
			var fn string
			for _, s := range ss {
				st, ok := s.Sandboxes[id]
				if !ok {
					continue
				}
				fn = st.Function
				vals = append(vals, dir(st.Traffic))
			}
			w, ok := bySandbox[id]
			if !ok {
				if w, ok = byFunction[fn]; !ok {
					continue // another function's sandbox, idle in this trial
				}
			}
			if _, seen := ss[0].Sandboxes[id]; !seen {
				vals = append([]float64{0}, vals...) // attached during the window: counted from zero
			}
			t.perWorker[w] += increase(vals)
		}
	}
	return t
}

// bracket keeps the samples from the last one at or before start to the first one at or
// after end (the ends themselves when the samples do not reach that far).
func bracket(ss []client.NetworkSample, start, end time.Time) []client.NetworkSample {
	lo, hi := 0, len(ss)-1
	for i, s := range ss {
		if !s.Time.After(start) {
			lo = i
		}
	}
	for i := len(ss) - 1; i >= 0; i-- {
		if !ss[i].Time.Before(end) {
			hi = i
		}
	}
	if hi < lo {
		return nil
	}
	return ss[lo : hi+1]
}

// increase sums the rises of a counter, counting a fall as a restart from zero.
func increase(vals []float64) float64 {
	var sum float64
	for i := 1; i < len(vals); i++ {
		if d := vals[i] - vals[i-1]; d >= 0 {
			sum += d
		} else {
			sum += vals[i]
		}
	}
	return sum
}

// peakRate is the highest rate between two samples at least PeakWindow apart (the closest
// such pair from each start). Windows shorter than PeakWindow return fallback.
func peakRate(ss []client.NetworkSample, vals []float64, fallback float64) float64 {
	peak, found := 0.0, false
	j := 0
	for i := range ss {
		if j <= i {
			j = i + 1
		}
		for j < len(ss) && ss[j].Time.Sub(ss[i].Time) < PeakWindow {
			j++
		}
		if j == len(ss) {
			break
		}
		rate := increase(vals[i:j+1]) / ss[j].Time.Sub(ss[i].Time).Seconds()
		peak, found = max(peak, rate), true
	}
	if !found {
		return fallback
	}
	return peak
}

func sandboxIDs(ss []client.NetworkSample) map[string]bool {
	ids := map[string]bool{}
	for _, s := range ss {
		for id := range s.Sandboxes {
			ids[id] = true
		}
	}
	return ids
}
