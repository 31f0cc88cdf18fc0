package run

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/services/dataset"
	"github.com/faaslab/faaslab/experiments/target"
	"github.com/faaslab/faaslab/experiments/workload"
)

// Invocation statuses.
const (
	StatusOK            = "ok"
	StatusFunctionError = "function_error"
	StatusAPIError      = "api_error"
)

// objectTimeoutSec is an object function's timeout: a 200 MB object at a 128 MB function's
// ~1 MB/s worst case still fits.
const objectTimeoutSec = 600

// job is one invocation a worker makes: its payload and work-queue item.
type job struct {
	item    int
	payload []byte
}

// runTrial runs one trial on one host and, unless ctx ended, writes its invocations,
// samples and result (in that order: a trial's result is written last, so a result in the
// files means its records are complete). The returned error is the host failing before
// the barrier; failed invocations go into the result's Error.
func (r *Runner) runTrial(ctx context.Context, h target.Host, data map[string]dataSet, t record.Trial) (record.TrialResult, error) {
	res := record.TrialResult{TrialID: t.ID}
	w, err := workload.Lookup(t.Workload)
	if err != nil {
		return res, err
	}
	if ds, ok := data[workload.SetName(t.ObjectMB)]; ok && ds.err != nil && w.Kind == workload.Object {
		return res, r.fail(ctx, res, ds.err)
	}
	if err := h.SetPolicy(ctx, r.policyOf(t)); err != nil {
		return res, r.fail(ctx, res, fmt.Errorf("set policy %s: %w", t.Policy, err))
	}
	names, err := r.createFunctions(ctx, h, t, w)
	defer r.deleteFunctions(ctx, h, names)
	if w.Upload {
		defer r.deleteUploads(ctx, h)
	}
	if err != nil {
		return res, r.fail(ctx, res, err)
	}
	if err := warm(ctx, h, names); err != nil {
		return res, r.fail(ctx, res, err)
	}
	jobs, err := r.jobs(ctx, h, data, t, w)
	if err != nil {
		return res, r.fail(ctx, res, err)
	}

	sampler := startSampler(ctx, h, t.ID, r.Spec.Interval())
	res.StartedAt = time.Now()
	invs := drive(ctx, h, t, w, names, jobs)
	res.FinishedAt = time.Now()
	samples := sampler.stop()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.ResponseSeconds = res.FinishedAt.Sub(res.StartedAt).Seconds()
	join(ctx, h, invs)
	res.Error = failures(invs)
	return res, r.write(res, invs, samples)
}

// fail records a trial that could not start (unless interrupted) and passes err on.
func (r *Runner) fail(ctx context.Context, res record.TrialResult, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.Error = err.Error()
	if werr := r.Writer.TrialDone(res); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

func (r *Runner) write(res record.TrialResult, invs []record.Invocation, samples []record.Sample) error {
	for _, inv := range invs {
		if err := r.Writer.Invocation(inv); err != nil {
			return err
		}
	}
	for _, s := range samples {
		if err := r.Writer.Sample(s); err != nil {
			return err
		}
	}
	return r.Writer.TrialDone(res)
}

// createFunctions creates one function per co-located worker with its memory size; all on
// h, so their sandboxes share one host. The names are returned even on error so whatever
// was created is deleted.
func (r *Runner) createFunctions(ctx context.Context, h target.Host, t record.Trial, w workload.Workload) ([]string, error) {
	timeout := objectTimeoutSec
	if w.Kind == workload.Iperf {
		timeout = int(t.Seconds) + 60
	}
	var names []string
	for i, mem := range t.MemoryMB {
		name := FunctionName(r.RunID, t.ID, i)
		names = append(names, name)
		if err := h.CreateFunction(ctx, target.Function{Name: name, Handler: w.Handler, MemoryMB: mem, TimeoutSec: timeout}); err != nil {
			return names, fmt.Errorf("create %s (%d MB): %w", name, mem, err)
		}
	}
	return names, nil
}

// deleteUploads removes what the run's puts wrote to h's store: the uploads are measured,
// not kept (a full reproduction would leave ~16 GB). Best effort: a daemon that cannot
// (another store, an older version) keeps them.
func (r *Runner) deleteUploads(ctx context.Context, h target.Host) {
	cctx, cancel := r.cleanupContext(ctx)
	defer cancel()
	h.DeleteUploads(cctx, r.RunID)
}

func (r *Runner) deleteFunctions(ctx context.Context, h target.Host, names []string) {
	cctx, cancel := r.cleanupContext(ctx)
	defer cancel()
	for _, n := range names {
		h.DeleteFunction(cctx, n) // best effort: a leftover is deleted with the daemon
	}
}

// warm invokes every function once, all at once, with a payload its handler rejects at
// once: each gets its sandbox (the cold start) before the barrier. A function error is
// the expected answer; only the API failing is an error.
func warm(ctx context.Context, h target.Host, names []string) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			if _, err := h.Invoke(ctx, n, workload.WarmPayload()); err != nil {
				errs[i] = fmt.Errorf("warm %s: %w", n, err)
			}
		})
	}
	wg.Wait()
	return firstErr(errs)
}

// jobs is the trial's work: for iperf3 one test per worker, each against its own server
// port (servers started after warming, so they are fresh); for objects the work queue,
// one item per object (gets cycle through the chunk set; puts write new keys).
func (r *Runner) jobs(ctx context.Context, h target.Host, data map[string]dataSet, t record.Trial, w workload.Workload) ([]job, error) {
	var out []job
	if w.Kind == workload.Iperf {
		pool, err := h.IperfPool(ctx, t.N())
		if err != nil {
			return nil, err
		}
		if len(pool.Ports) < t.N() {
			return nil, fmt.Errorf("iperf3 pool has %d servers, the trial needs %d", len(pool.Ports), t.N())
		}
		for i := range t.N() {
			out = append(out, job{item: i, payload: w.IperfPayload(pool.Host, pool.Ports[i], t.Seconds)})
		}
		return out, nil
	}
	ds, ok := data[workload.SetName(t.ObjectMB)]
	if !ok || ds.err != nil || len(ds.Objects) == 0 {
		return nil, fmt.Errorf("no data set %s", workload.SetName(t.ObjectMB))
	}
	if w.Upload { // new keys under the run, in the store's bucket
		for i := range t.Objects {
			key := fmt.Sprintf("%s/%s/%s/%04d", dataset.UploadPrefix, r.RunID, FunctionName(r.RunID, t.ID, 0), i)
			out = append(out, job{item: i, payload: w.ObjectPayload(ds.Bucket, key, ds.ObjectBytes)})
		}
		return out, nil
	}
	for i := range t.Objects {
		o := ds.Objects[i%len(ds.Objects)]
		out = append(out, job{item: i, payload: w.ObjectPayload(ds.Bucket, o.Key, o.Bytes)})
	}
	return out, nil
}

// drive releases every worker at once (the barrier) and lets each take the next job
// until none is left: for iperf3 there is one job per worker, so each takes exactly one.
func drive(ctx context.Context, h target.Host, t record.Trial, w workload.Workload, names []string, jobs []job) []record.Invocation {
	queue := make(chan job, len(jobs))
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	release := make(chan struct{})
	var mu sync.Mutex
	var invs []record.Invocation
	var ready, wg sync.WaitGroup
	for i, name := range names {
		ready.Add(1)
		wg.Go(func() {
			ready.Done()
			<-release
			for j := range queue {
				if ctx.Err() != nil {
					return
				}
				inv := invoke(ctx, h, t, w, name, i, j)
				mu.Lock()
				invs = append(invs, inv)
				mu.Unlock()
			}
		})
	}
	ready.Wait() // every worker is parked at the barrier
	close(release)
	wg.Wait()
	return invs
}

// invoke makes one invocation and records it as the client saw it with the handler's
// measurement.
func invoke(ctx context.Context, h target.Host, t record.Trial, w workload.Workload, name string, worker int, j job) record.Invocation {
	inv := record.Invocation{TrialID: t.ID, Function: name, MemoryMB: t.MemoryMB[worker], Worker: worker, Item: j.item, StartedAt: time.Now()}
	res, err := h.Invoke(ctx, name, j.payload)
	inv.FinishedAt = time.Now()
	inv.RequestID = res.RequestID
	switch {
	case err != nil:
		inv.Status, inv.Error = StatusAPIError, err.Error()
	case res.FunctionError != "":
		inv.Status, inv.Error = StatusFunctionError, workload.ErrorMessage(res.Payload)
	default:
		inv.Status = StatusOK
		if perr := w.ParseResult(res.Payload, &inv); perr != nil {
			inv.Status, inv.Error = StatusFunctionError, perr.Error()
		}
	}
	return inv
}

// join fills the daemon's fields from its records (when readable from here).
func join(ctx context.Context, h target.Host, invs []record.Invocation) {
	recs, err := h.Records(ctx)
	if err != nil {
		return // ErrNoRecords: the manifest says the daemon fields are empty
	}
	for i := range invs {
		rec, ok := recs[invs[i].RequestID]
		if !ok {
			continue
		}
		inv := &invs[i]
		inv.DurationMs, inv.BilledDurationMs, inv.InitDurationMs = rec.DurationMs, rec.BilledMs, rec.InitMs
		inv.Cold = rec.Start == "cold"
		if inv.SandboxID == "" {
			inv.SandboxID = rec.SandboxID
		}
		if inv.HostID == "" {
			inv.HostID = rec.HostID
		}
	}
}

// failures says how many invocations failed and the first reason ("" if none did).
func failures(invs []record.Invocation) string {
	n, first := 0, ""
	for _, inv := range invs {
		if inv.Status != StatusOK {
			if n == 0 {
				first = inv.Function + ": " + inv.Error
			}
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d invocations failed; first: %s", n, len(invs), first)
}
