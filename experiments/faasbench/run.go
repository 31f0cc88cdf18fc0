package faasbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/faaslab/faaslab/client"
)

// Runner runs a spec and writes its results under Dir/<run-id>/.
type Runner struct {
	Spec Spec
	Dir  string    // results root, e.g. results/faasbench
	Out  io.Writer // terminal: progress and the summary table (nil = discard)
	// ClientOptions reach the daemon of platform faaslab (e.g. client.WithBearerToken).
	ClientOptions []client.Option
}

// Result is a finished run.
type Result struct {
	RunID string
	Dir   string // the run's directory
	Calls []Call
}

// Files of a run directory.
const (
	LogFile    = "run.log"
	CSVFile    = "calls.csv"
	TablesFile = "tables.md"
)

// Run fills the spec's defaults, sets the platform up (faaslab), runs every workload in order, tears down and writes
// run.log, calls.csv (one row per call, written as calls finish) and tables.md.
func (r *Runner) Run(ctx context.Context) (*Result, error) {
	r.Spec.fillDefaults()
	if err := r.Spec.Validate(); err != nil {
		return nil, err
	}
	out := r.Out
	if out == nil {
		out = io.Discard
	}
	res := &Result{RunID: time.Now().UTC().Format("20060102T150405Z") + "-" + r.Spec.Name}
	res.Dir = filepath.Join(r.Dir, res.RunID)
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(res.Dir, LogFile))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logf, out), nil))
	csvf, err := os.Create(filepath.Join(res.Dir, CSVFile))
	if err != nil {
		return nil, err
	}
	defer csvf.Close()
	rows, err := NewCSVWriter(csvf)
	if err != nil {
		return nil, err
	}

	ep, fp, err := r.endpoints(ctx, log)
	if fp != nil {
		defer func() {
			if r.Spec.Faaslab.KeepFunctions {
				return
			}
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := fp.teardown(tctx); err != nil {
				log.Warn("teardown", "err", err)
			}
		}()
	}
	if err != nil {
		return res, err
	}
	record := func(c Call) {
		res.Calls = append(res.Calls, c)
		if err := rows.Write(c); err != nil {
			log.Error("csv", "err", err)
		}
		log.Info("call", "workload", c.Workload, "seq", c.Seq, "uuid", c.UUID, "status", c.Status,
			"http", c.HTTPStatus, "client_ms", round(c.ClientMs), "m1", c.M1.HeaderBytes+c.M1.BodyBytes,
			"m2", c.M2.HeaderBytes+c.M2.BodyBytes, "m3", c.M3.HeaderBytes+c.M3.BodyBytes,
			"m4", c.M4.HeaderBytes+c.M4.BodyBytes, "err", c.Error)
	}
	for _, w := range r.Spec.Workloads {
		if ctx.Err() != nil {
			break
		}
		log.Info("workload", "name", w.Name, "kind", w.Kind)
		r.runWorkload(ctx, w, ep, fp, record)
	}
	if err := WriteTables(filepath.Join(res.Dir, TablesFile), res.Calls); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "\n%s\nresults: %s\n", SummaryTable(res.Calls), res.Dir)
	return res, ctx.Err()
}

// endpoint is the daemon the run uses: the spec's (or what the caller set), else
// client.DefaultEndpoint.
func (f FaaslabSpec) endpoint() string {
	if f.Endpoint == "" {
		return client.DefaultEndpoint
	}
	return f.Endpoint
}

// endpoints sets faaslab up or takes the spec's URLs.
func (r *Runner) endpoints(ctx context.Context, log *slog.Logger) (endpoints, *faaslabPlatform, error) {
	s := r.Spec
	if s.Platform == PlatformHTTP {
		return endpoints{proxy: s.HTTP.ProxyURL, asyncProxy: s.HTTP.AsyncProxyURL, targets: s.HTTP.Targets}, nil, nil
	}
	fp := &faaslabPlatform{c: client.New(s.Faaslab.endpoint(), r.ClientOptions...), spec: s.Faaslab}
	var targets []string
	timeouts := map[string]int{}
	seen := map[string]bool{}
	for _, w := range s.Workloads {
		for _, t := range w.targets() {
			if !seen[t] {
				seen[t] = true
				targets = append(targets, t)
			}
		}
		if w.Kind == KindTimeout {
			timeouts["timeout"] = w.FunctionTimeoutS
		}
	}
	sort.Strings(targets)
	ep, err := fp.setup(ctx, targets, timeouts)
	if err == nil {
		log.Info("faaslab functions ready", "proxy", ep.proxy, "targets", fmt.Sprint(ep.targets))
	}
	return ep, fp, err
}

// runWorkload makes a workload's calls and hands each finished one to record (in order
// of completion; record is called from one goroutine at a time).
func (r *Runner) runWorkload(ctx context.Context, w Workload, ep endpoints, fp *faaslabPlatform, record func(Call)) {
	var mu sync.Mutex
	finish := func(c Call, wait time.Duration) {
		if fp != nil && !c.Async {
			fp.annotate(ctx, &c, wait)
		}
		mu.Lock()
		record(c)
		mu.Unlock()
	}
	annotateWait := 2 * time.Second
	one := func(seq int, target string, async bool, waitMs float64) Call {
		c := Call{Workload: w.Name, Kind: w.Kind, Target: target, Seq: seq, Async: async, WaitMs: waitMs}
		if target == "wordcount" && w.Data == nil {
			c.Words = w.Words
		}
		data, err := w.data(target)
		if err != nil {
			c.Status, c.Error = StatusError, err.Error()
			return c
		}
		proxy, header := ep.proxy, async
		if async && ep.asyncProxy != "" {
			proxy, header = ep.asyncProxy, false
		}
		do(ctx, &c, proxy, ep.targets[target], data, header, r.Spec.ClientTimeout)
		return c
	}
	switch w.Kind {
	case KindBatch:
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range w.Batch.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := range jobs {
					finish(one(seq, w.Target, w.Batch.Async, 0), annotateWait)
				}
			}()
		}
		for i := range w.Batch.Requests {
			if ctx.Err() != nil {
				break
			}
			jobs <- i
		}
		close(jobs)
		wg.Wait()
	case KindResponsiveness:
		for i, d := range w.Waits {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			finish(one(i, w.Target, false, float64(d)/float64(time.Millisecond)), annotateWait)
		}
	case KindTimeout:
		// The function's record appears when it ends: wait out its timeout.
		wait := time.Duration(max(r.Spec.Faaslab.TimeoutS, w.FunctionTimeoutS)+5) * time.Second
		seq := 0
		if w.GatewaySleepMs > 0 {
			finish(one(seq, "sleep", false, 0), time.Duration(w.GatewaySleepMs)*time.Millisecond+wait)
			seq++
		}
		finish(one(seq, "timeout", false, 0), wait)
	}
}

func round(f float64) float64 { return float64(int64(f*100)) / 100 }
