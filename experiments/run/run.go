// Package run executes a plan against faaslab hosts: it creates one function per co-located
// worker, warms every sandbox, releases the transfers at once (a barrier), drives object
// workloads as a work queue, samples the hosts' counters, and records every invocation,
// sample and trial. It computes no statistics (experiments/analyze does, from the files).
package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/faaslab/faaslab/client"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/spec"
	"github.com/faaslab/faaslab/experiments/target"
	"github.com/faaslab/faaslab/experiments/workload"
)

// Event is one step of progress: a trial finished, failed or was skipped.
type Event struct {
	Done, Total int // trials accounted for (run, failed or skipped) and in the plan
	Trial       record.Trial
	Host        string
	Skipped     bool
	ReusedFrom  string // skipped: measured earlier in this command, by this run and trial
	Err         error
	Took        time.Duration
	// ETA is the mean time of the trials run so far times the trials left (0: none ran
	// yet). The terminal and the daemons are told the same estimate.
	ETA time.Duration
}

// Summary counts what a Run did.
type Summary struct {
	Ran, Skipped, Failed int
}

// Runner runs one spec's trials.
type Runner struct {
	Spec     *spec.Spec
	RunID    string
	Fleet    target.Fleet
	Writer   *record.Writer
	Progress func(Event) // nil: no progress reports
	// Reused names, for the progress reports, where finished trials were measured
	// (trial id → run and trial); the others were finished before (--resume).
	Reused map[string]string
	// cleanupTimeout bounds deleting a trial's functions after Ctrl-C.
	cleanupTimeout time.Duration
}

// Run runs every trial not in finished, in plan order. Consecutive trials on the same
// host configuration share the fleet's hosts; with several hosts each takes the next
// trial (one trial per host at a time: its co-located functions stay on that host). A
// cancelled ctx stops at once, writes nothing for the trials it interrupted (they run
// again on --resume) and returns ctx's error.
func (r *Runner) Run(ctx context.Context, trials []record.Trial, finished map[string]bool) (Summary, error) {
	var sum Summary
	done := 0
	started := time.Now()
	// report counts a trial, tells r.Progress and returns what the daemons are told.
	report := func(ev Event) client.ExperimentProgress {
		done++
		ev.Done, ev.Total = done, len(trials)
		if ran := done - sum.Skipped; ran > 0 {
			ev.ETA = time.Since(started) / time.Duration(ran) * time.Duration(len(trials)-done)
		}
		if r.Progress != nil {
			r.Progress(ev)
		}
		return client.ExperimentProgress{Spec: r.Spec.Name, Total: len(trials), Done: done, ETASeconds: ev.ETA.Seconds()}
	}
	segs := segments(r.Spec, trials)
	var cfgs []target.HostConfig
	for _, seg := range segs {
		cfgs = append(cfgs, seg.cfg)
	}
	if err := r.Fleet.Accepts(cfgs); err != nil {
		return sum, err
	}
	for _, seg := range segs {
		var todo []record.Trial
		for _, t := range seg.trials {
			if finished[t.ID] {
				sum.Skipped++
				report(Event{Trial: t, Skipped: true, ReusedFrom: r.Reused[t.ID]})
			} else {
				todo = append(todo, t)
			}
		}
		if len(todo) == 0 {
			continue
		}
		hosts, err := r.Fleet.Hosts(ctx, seg.cfg)
		if err != nil {
			return sum, fmt.Errorf("hosts for %+v: %w", seg.cfg, err)
		}
		data, err := preflight(ctx, hosts, todo)
		if err != nil {
			return sum, err
		}
		if err := r.runSegment(ctx, hosts, data, todo, &sum, report); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// segment is a run of consecutive trials on one host configuration.
type segment struct {
	cfg    target.HostConfig
	trials []record.Trial
}

func segments(s *spec.Spec, trials []record.Trial) []segment {
	var out []segment
	for _, t := range trials {
		cfg := target.HostConfig{Profile: s.HostProfile(), Backend: s.HostBackend(), CPUModel: t.CPUModel}
		if n := len(out); n > 0 && out[n-1].cfg == cfg {
			out[n-1].trials = append(out[n-1].trials, t)
			continue
		}
		out = append(out, segment{cfg: cfg, trials: []record.Trial{t}})
	}
	return out
}

// dataSet is a chunk set as a host answered it, or why it could not.
type dataSet struct {
	target.DataSet
	err error
}

// dataSets is each host's chunk sets, by set name.
type dataSets map[target.Host]map[string]dataSet

// preflight asks every host, before any trial starts, for the chunk sets the segment's
// object workloads use (puts too: the set's ensure proves the store and names its
// bucket). A host without the S3 store answers at once; its object trials then fail at
// once with that reason instead of hanging, and the other trials still run.
func preflight(ctx context.Context, hosts []target.Host, trials []record.Trial) (dataSets, error) {
	need := map[string]int{} // set -> objects the largest get trial reads (1 for puts)
	var order []string
	for _, t := range trials {
		w, err := workload.Lookup(t.Workload)
		if err != nil {
			return nil, err
		}
		if w.Kind != workload.Object {
			continue
		}
		set := workload.SetName(t.ObjectMB)
		if _, ok := need[set]; !ok {
			order = append(order, set)
		}
		n := 1
		if !w.Upload {
			n = t.Objects
		}
		need[set] = max(need[set], n)
	}
	out := dataSets{}
	for _, h := range hosts {
		out[h] = map[string]dataSet{}
		for _, set := range order {
			ds, err := h.DataSet(ctx, set, need[set])
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				err = fmt.Errorf("data set %s: %w", set, err)
			}
			out[h][set] = dataSet{ds, err}
		}
	}
	return out, nil
}

// runSegment hands the trials to the hosts, each taking the next one when free.
func (r *Runner) runSegment(ctx context.Context, hosts []target.Host, data dataSets, trials []record.Trial, sum *Summary, report func(Event) client.ExperimentProgress) error {
	queue := make(chan record.Trial, len(trials))
	for _, t := range trials {
		queue <- t
	}
	close(queue)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			for t := range queue {
				if ctx.Err() != nil {
					return
				}
				start := time.Now()
				res, err := r.runTrial(ctx, h, data[h], t)
				if ctx.Err() != nil {
					return // interrupted: nothing written, --resume reruns it
				}
				mu.Lock()
				if err == nil && res.Error != "" {
					err = errors.New(res.Error)
				}
				if err != nil {
					sum.Failed++
				} else {
					sum.Ran++
				}
				p := report(Event{Trial: t, Host: h.Name(), Err: err, Took: time.Since(start)})
				mu.Unlock()
				// Best effort: a daemon that cannot take it still runs the experiment.
				_ = h.ReportProgress(ctx, p)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// FunctionName names worker i of a trial: the run id and a hash of the trial id, so
// concurrent runs and trials never share a function, within Lambda's 64 characters.
func FunctionName(runID, trialID string, worker int) string {
	h := sha256.Sum256([]byte(trialID))
	return fmt.Sprintf("fx-%s-%s-w%02d", shortID(runID), hex.EncodeToString(h[:4]), worker)
}

func shortID(runID string) string {
	h := sha256.Sum256([]byte(runID))
	return hex.EncodeToString(h[:3])
}

// cleanupContext outlives a cancelled ctx so the functions of an interrupted trial are
// still deleted.
func (r *Runner) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := r.cleanupTimeout
	if d == 0 {
		d = 30 * time.Second
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// policyOf is the trial's shaping policy.
func (r *Runner) policyOf(t record.Trial) target.Policy {
	return target.Policy{Name: t.Policy, Strict: t.Strict, NIC: r.Spec.NIC, FixedRate: t.Params["fixed_rate"], NICQueue: t.NICQueue}
}

// firstErr is the first non-nil error.
func firstErr(errs []error) error {
	i := slices.IndexFunc(errs, func(e error) bool { return e != nil })
	if i < 0 {
		return nil
	}
	return errs[i]
}
