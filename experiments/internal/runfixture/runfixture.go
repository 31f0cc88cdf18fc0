// Package runfixture builds small, deterministic run directories for the analysis and report
// tests: a plan like the built-in specs', and invocations and 100 ms counter samples
// simulated from a rate model (each function moves its bytes at a constant rate; the object
// workloads hand items out as a work queue). Tests only.
package runfixture

import (
	"fmt"
	"math"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/analyze"
	"github.com/faaslab/faaslab/experiments/record"
)

// NIC is the emulated c3.large NIC, 560 Mbit/s, in bytes per second.
const NIC = 70e6

// Tick is the sampling interval.
const Tick = 100 * time.Millisecond

// Rate gives a function's rate in bytes/s while every function of the trial is busy.
type Rate func(t record.Trial, worker int) float64

// Start is when the first trial starts; trials are a minute apart.
func Start() time.Time { return time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC) }

// Build simulates every trial of the plan under the rate model.
func Build(spec string, trials []record.Trial, rate Rate) *record.Run {
	run := &record.Run{Manifest: record.Manifest{RunID: "fixture-" + spec, Spec: spec, Trials: trials,
		Kernel: "6.18.0", CgroupVersion: 1, Profile: "c3.large", Backend: "native", StartedAt: Start()}}
	for i, t := range trials {
		start := Start().Add(time.Duration(i) * time.Minute)
		simulate(run, t, start, rate)
	}
	run.Manifest.FinishedAt = Start().Add(time.Duration(len(trials)) * time.Minute)
	return run
}

// Write stores a run in dir through record.Writer, as the runner would.
func Write(dir string, run *record.Run) error {
	w, err := record.Create(dir)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.WriteManifest(run.Manifest); err != nil {
		return err
	}
	for _, inv := range run.Invocations {
		if err := w.Invocation(inv); err != nil {
			return err
		}
	}
	for _, s := range run.Samples {
		if err := w.Sample(s); err != nil {
			return err
		}
	}
	for _, r := range run.Results {
		if err := w.TrialDone(r); err != nil {
			return err
		}
	}
	return w.Close()
}

// span is one invocation's transfer.
type span struct {
	worker     int
	from, to   time.Time
	bytes      float64
	item       int
	rateBytesS float64
}

func simulate(run *record.Run, t record.Trial, start time.Time, rate Rate) {
	var spans []span
	n := t.N()
	if analyze.Iperf(t.Workload) {
		d := time.Duration(t.Seconds * float64(time.Second))
		for w := range n {
			r := rate(t, w)
			spans = append(spans, span{worker: w, from: start, to: start.Add(d), bytes: r * t.Seconds, rateBytesS: r})
		}
	} else {
		free := make([]time.Time, n) // when each worker takes its next item
		for w := range free {
			free[w] = start
		}
		size := float64(t.ObjectMB) * 1e6
		for item := range t.Objects {
			w := 0
			for k := range free {
				if free[k].Before(free[w]) {
					w = k
				}
			}
			r := rate(t, w)
			d := time.Duration(size / r * float64(time.Second)).Round(time.Microsecond)
			spans = append(spans, span{worker: w, from: free[w], to: free[w].Add(d), bytes: size, item: item, rateBytesS: r})
			free[w] = free[w].Add(d)
		}
	}
	end := start
	for _, s := range spans {
		if s.to.After(end) {
			end = s.to
		}
	}
	for i, s := range spans {
		secs := s.to.Sub(s.from).Seconds()
		mem := t.MemoryMB[s.worker]
		run.Invocations = append(run.Invocations, record.Invocation{
			TrialID: t.ID, RequestID: fmt.Sprintf("%s#%d", t.ID, i), Function: function(t, s.worker),
			MemoryMB: mem, Worker: s.worker, Item: s.item, StartedAt: s.from, FinishedAt: s.to, Status: "ok",
			Bytes: int64(s.bytes), Seconds: secs, BitsPerSec: s.rateBytesS * 8,
			CPUSeconds: secs / 10, NrPeriods: int64(math.Ceil(secs * 10)), ThrottledPeriods: int64(math.Ceil(secs * 10 * throttled(mem))),
			SandboxID: sandbox(t, s.worker), HostID: "h0",
			DurationMs: secs * 1000, BilledDurationMs: int64(math.Ceil(secs * 1000)),
		})
	}
	upload := analyze.Upload(t.Workload)
	for at := start.Add(-Tick); !at.After(end.Add(Tick)); at = at.Add(Tick) {
		sample := client.NetworkSample{Time: at, Sandboxes: map[string]client.SandboxTraffic{}}
		for w := range n {
			var b float64
			for _, s := range spans {
				if s.worker == w {
					b += moved(s, at)
				}
			}
			tr := traffic(uint64(b), upload)
			sample.Sandboxes[sandbox(t, w)] = client.SandboxTraffic{SandboxID: sandbox(t, w), Function: function(t, w), Traffic: tr}
			sample.Uplink.UploadBytes += tr.UploadBytes
			sample.Uplink.DownloadBytes += tr.DownloadBytes
		}
		// A sandbox of another function, idle in this trial: must not be counted.
		sample.Sandboxes["idle"] = client.SandboxTraffic{SandboxID: "idle", Function: "other", Traffic: client.Traffic{DownloadBytes: 5, UploadBytes: 5}}
		run.Samples = append(run.Samples, record.Sample{TrialID: t.ID, Sample: sample})
	}
	run.Results = append(run.Results, record.TrialResult{TrialID: t.ID, StartedAt: start, FinishedAt: end,
		ResponseSeconds: end.Sub(start).Seconds()})
}

// throttled is a made-up CFS throttled share: small functions are throttled more.
func throttled(mem int) float64 { return 128 / float64(128+mem) }

func moved(s span, at time.Time) float64 {
	switch {
	case !at.After(s.from):
		return 0
	case !at.Before(s.to):
		return s.bytes
	default:
		return s.bytes * at.Sub(s.from).Seconds() / s.to.Sub(s.from).Seconds()
	}
}

func traffic(b uint64, upload bool) client.Traffic {
	if upload {
		return client.Traffic{UploadBytes: b}
	}
	return client.Traffic{DownloadBytes: b}
}

func sandbox(t record.Trial, w int) string  { return fmt.Sprintf("%s/sb%d", t.ID, w) }
func function(t record.Trial, w int) string { return fmt.Sprintf("fn%d-%dmb", w, t.MemoryMB[w]) }
