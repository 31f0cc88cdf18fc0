// Package bench measures the daemon itself — cold start, warm invoke latency and
// throughput, idle sandbox memory, the docker backend's overhead — and the shaping accuracy
// of netshape, each against a baseline measured in the same run (make bench).
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/stats"
	"github.com/faaslab/faaslab/internal/daemon"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/docker"
)

// Options size every benchmark; the defaults keep `make bench` to a few minutes.
type Options struct {
	Runs          int // medians are taken over this many runs
	ColdStarts    int // cold starts per run
	WarmInvokes   int // sequential warm invokes per run
	Throughput    time.Duration
	Clients       int
	ShapingPoints string
	Backend       string
	MemoryMB      int // MemorySize of the cold-start functions
	// warmMemoryMB sizes the warm and throughput functions: large enough that the
	// emulated CPU quota (0.085 CPU at 128 MB) is not what is measured.
	WarmMemoryMB int
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

// coreRun is one run's results.
type coreRun struct {
	coldP50, coldP99, baseColdP50 time.Duration
	warmP50, warmP99, baseWarmP50 time.Duration
	throughput, baseThroughput    float64
	idleBytes                     float64 // mean cgroup memory of an idle sandbox
}

func Core(ctx context.Context, w io.Writer, o Options) error {
	fmt.Fprintf(w, "== core: %s backend, c3.large, cold starts at %d MB, warm/throughput at %d MB, %d runs (medians) ==\n",
		o.Backend, o.MemoryMB, o.WarmMemoryMB, o.Runs)
	var runs []coreRun
	for i := 0; i < o.Runs; i++ {
		r, err := benchCoreRun(ctx, o, os.Stderr)
		if err != nil {
			return err
		}
		runs = append(runs, r)
		fmt.Fprintf(os.Stderr, "core run %d/%d: cold p50 %s, warm p50 %s, %.0f inv/s\n", i+1, o.Runs, ms(r.coldP50), ms(r.warmP50), r.throughput)
	}
	med := func(f func(coreRun) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return stats.Median(xs)
	}
	d := func(f func(coreRun) time.Duration) float64 {
		return med(func(r coreRun) float64 { return float64(f(r)) / 1e6 })
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tmeasured\ttarget\tbaseline (same run)\tratio\t")
	coldP50, baseCold := d(func(r coreRun) time.Duration { return r.coldP50 }), d(func(r coreRun) time.Duration { return r.baseColdP50 })
	fmt.Fprintf(tw, "cold start p50 (first invoke, end to end)\t%.2f ms\t≤ 10 ms\t%.2f ms fork+exec of the bootstrap\t%.1f×\t\n", coldP50, baseCold, coldP50/baseCold)
	fmt.Fprintf(tw, "cold start p99\t%.2f ms\t\t\t\t\n", d(func(r coreRun) time.Duration { return r.coldP99 }))
	warmP50, baseWarm := d(func(r coreRun) time.Duration { return r.warmP50 }), d(func(r coreRun) time.Duration { return r.baseWarmP50 })
	fmt.Fprintf(tw, "warm no-op invoke p50 (HTTP API)\t%.3f ms\t≤ 0.5 ms\t%.3f ms bare loopback HTTP round trip\t%.1f×\t\n", warmP50, baseWarm, warmP50/baseWarm)
	fmt.Fprintf(tw, "warm no-op invoke p99\t%.3f ms\t\t\t\t\n", d(func(r coreRun) time.Duration { return r.warmP99 }))
	tp, baseTp := med(func(r coreRun) float64 { return r.throughput }), med(func(r coreRun) float64 { return r.baseThroughput })
	fmt.Fprintf(tw, "throughput (%d clients)\t%.0f inv/s\t≥ 5,000/s\t%.0f req/s bare loopback HTTP\t%.2f×\t\n", o.Clients, tp, baseTp, tp/baseTp)
	fmt.Fprintf(tw, "idle sandbox memory (cgroup usage)\t%.2f MB\t≤ 8 MB\t\t\t\n", med(func(r coreRun) float64 { return r.idleBytes })/(1<<20))
	return tw.Flush()
}

// benchCoreRun starts a private daemon in this process and measures it through its API.
func benchCoreRun(ctx context.Context, o Options, progress io.Writer) (r coreRun, err error) {
	d, lc, stop, err := benchDaemon(ctx, o.Backend)
	if err != nil {
		return r, err
	}
	defer stop()

	if r.coldP50, r.coldP99, err = benchColdStarts(ctx, lc, o.ColdStarts, o.MemoryMB); err != nil {
		return r, err
	}
	if r.baseColdP50, err = benchForkExec(d.Config().RuntimeBin, o.ColdStarts); err != nil {
		return r, err
	}
	if err := createBenchFunction(ctx, lc, "warm", "echo", o.WarmMemoryMB); err != nil {
		return r, err
	}
	if r.warmP50, r.warmP99, err = benchWarm(ctx, lc, "warm", o.WarmInvokes); err != nil {
		return r, err
	}
	base, baseStop, err := bareHTTPServer()
	if err != nil {
		return r, err
	}
	defer baseStop()
	baseClient := client.New(base)
	if r.baseWarmP50, _, err = benchWarm(ctx, baseClient, "warm", o.WarmInvokes); err != nil {
		return r, err
	}
	if path := os.Getenv("FAASLAB_BENCH_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	if r.throughput, err = benchThroughput(ctx, lc, "warm", o.Clients, o.Throughput); err != nil {
		return r, err
	}
	if r.baseThroughput, err = benchThroughput(ctx, baseClient, "warm", o.Clients, o.Throughput); err != nil {
		return r, err
	}
	r.idleBytes = idleSandboxMemory(d.Config().CgroupRoot)
	return r, nil
}

// benchDaemon starts a private daemon in this process (own prefix, subnet, cgroup parent
// and state dir) serving on a loopback port; stop removes everything it made.
func benchDaemon(ctx context.Context, backend string) (*daemon.Daemon, *client.Client, func(), error) {
	tag := strconv.FormatInt(time.Now().UnixNano()%0xfff, 16)
	cfg := daemon.DefaultConfig()
	cfg.Backend = backend
	cfg.Listen = "127.0.0.1:0"
	cfg.Network.Prefix = "faaslabb" + tag
	cfg.CgroupRoot = "/faaslabb" + tag
	cfg.Network.Subnet = "10.203.0.0/24"
	stateDir, err := os.MkdirTemp("", "faaslab-bench")
	if err != nil {
		return nil, nil, nil, err
	}
	cfg.StateDir = stateDir
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		os.RemoveAll(stateDir)
		return nil, nil, nil, err
	}
	go d.Serve()
	stop := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		d.Stop(stopCtx)
		os.RemoveAll(stateDir)
	}
	return d, client.New(d.Endpoint()), stop, nil
}

func createBenchFunction(ctx context.Context, c *client.Client, name, handler string, memoryMB int) error {
	_, err := c.CreateFunction(ctx, client.CreateFunctionRequest{FunctionName: name, Runtime: "faaslab",
		Handler: handler, MemorySize: memoryMB, Timeout: 10})
	return err
}

// benchColdStarts creates n functions and times each one's first (cold) invoke end to end,
// deleting each afterwards so the host never fills.
func benchColdStarts(ctx context.Context, c *client.Client, n, memoryMB int) (p50, p99 time.Duration, err error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("cold%d", i)
		if err := createBenchFunction(ctx, c, name, "echo", memoryMB); err != nil {
			return 0, 0, err
		}
		start := time.Now()
		res, err := c.Invoke(ctx, client.InvokeRequest{FunctionName: name, Payload: []byte(`{}`)})
		if err != nil {
			return 0, 0, err
		}
		if res.FunctionError != "" {
			return 0, 0, fmt.Errorf("cold invoke failed: %s", res.Payload)
		}
		ds = append(ds, time.Since(start))
		if err := c.DeleteFunction(ctx, name); err != nil {
			return 0, 0, err
		}
	}
	return stats.DurationQuantile(ds, 0.5), stats.DurationQuantile(ds, 0.99), nil
}

// benchForkExec is the cold-start floor: starting the bootstrap binary as a plain process
// (it exits at once without AWS_LAMBDA_RUNTIME_API).
func benchForkExec(bin string, n int) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		cmd := exec.Command(bin)
		cmd.Env = []string{}
		_ = cmd.Run() // exits non-zero without a Runtime API; only its cost matters
		ds = append(ds, time.Since(start))
	}
	return stats.DurationQuantile(ds, 0.5), nil
}

func benchWarm(ctx context.Context, c *client.Client, name string, n int) (p50, p99 time.Duration, err error) {
	// Warm up: the first invoke may be cold.
	if _, err := c.Invoke(ctx, client.InvokeRequest{FunctionName: name, Payload: []byte(`{}`)}); err != nil {
		return 0, 0, err
	}
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := c.Invoke(ctx, client.InvokeRequest{FunctionName: name, Payload: []byte(`{}`)}); err != nil {
			return 0, 0, err
		}
		ds = append(ds, time.Since(start))
	}
	return stats.DurationQuantile(ds, 0.5), stats.DurationQuantile(ds, 0.99), nil
}

func benchThroughput(ctx context.Context, c *client.Client, name string, clients int, d time.Duration) (float64, error) {
	var count atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := c.Invoke(ctx, client.InvokeRequest{FunctionName: name, Payload: []byte(`{}`)}); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(count.Load()) / time.Since(start).Seconds(), nil
}

// bareHTTPServer answers every POST with "{}": the HTTP floor of an invoke.
func bareHTTPServer() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("{}"))
	})}
	go s.Serve(ln)
	return "http://" + ln.Addr().String(), func() { s.Close() }, nil
}

// idleSandboxMemory is the mean memory charged to the idle sandboxes' cgroups.
func idleSandboxMemory(parent string) float64 {
	names, err := sandbox.ChildCgroups(parent, sandbox.NamePrefix)
	if err != nil {
		return 0
	}
	var total, n float64
	for _, name := range names {
		if st, err := sandbox.ReadStats(parent + "/" + name); err == nil {
			total += float64(st.MemoryUsageBytes)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return total / n
}

func Shaping(ctx context.Context, w io.Writer, o Options) error {
	fmt.Fprintln(w, "\n== shaping accuracy: configured vs achieved iperf3 goodput (target: within 5% of 0.956 × configured) ==")
	var pts []shape.AccuracyPoint
	var err error
	switch o.ShapingPoints {
	case "default", "":
		pts = shape.DefaultAccuracyPoints()
	case "quick":
		pts = shape.QuickAccuracyPoints()
	default:
		if pts, err = shape.ParseAccuracyPoints(o.ShapingPoints); err != nil {
			return err
		}
	}
	rows, err := shape.MeasureAccuracy(ctx, shape.AccuracyConfig{Points: pts}, os.Stderr)
	if err != nil {
		return err
	}
	return shape.WriteAccuracyTable(w, rows)
}

func Docker(ctx context.Context, w io.Writer, o Options) error {
	fmt.Fprintln(w, "\n== docker backend cold start vs raw `docker create && docker start` of the same image (target ≤ 1.15×) ==")
	b, err := docker.New(ctx, docker.Config{Scope: "faaslabbench", BackendConfig: sandbox.BackendConfig{CgroupParent: "/faaslabbench-docker"}})
	if err != nil {
		return err
	}
	defer b.Close(context.Background())
	var backendMed, rawMed []float64
	for i := 0; i < o.Runs; i++ {
		bn, raw, err := b.MeasureColdStart(ctx, 10)
		if err != nil {
			return err
		}
		backendMed = append(backendMed, float64(stats.DurationQuantile(bn, 0.5)))
		rawMed = append(rawMed, float64(stats.DurationQuantile(raw, 0.5)))
	}
	bm, rm := stats.Median(backendMed)/1e6, stats.Median(rawMed)/1e6
	// End-to-end cold starts through the daemon's API, native vs docker, same run.
	var nativeCold, dockerCold []float64
	for i := 0; i < o.Runs; i++ {
		for _, backend := range []string{"native", "docker"} {
			p50, err := benchColdOnly(ctx, backend, o.MemoryMB, 10)
			if err != nil {
				return fmt.Errorf("%s cold starts: %w", backend, err)
			}
			if backend == "native" {
				nativeCold = append(nativeCold, float64(p50)/1e6)
			} else {
				dockerCold = append(dockerCold, float64(p50)/1e6)
			}
		}
	}
	nm, dm := stats.Median(nativeCold), stats.Median(dockerCold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tmedian\ttarget\t")
	fmt.Fprintf(tw, "docker backend Create+Start until the command exits\t%.1f ms\t\t\n", bm)
	fmt.Fprintf(tw, "raw docker create && docker start, same image and limits\t%.1f ms\t\t\n", rm)
	fmt.Fprintf(tw, "ratio backend / raw\t%.2f×\t≤ 1.15×\t\n", bm/rm)
	fmt.Fprintf(tw, "cold invoke p50 through the API, native backend\t%.1f ms\t\t\n", nm)
	fmt.Fprintf(tw, "cold invoke p50 through the API, docker backend\t%.1f ms\t\t\n", dm)
	fmt.Fprintf(tw, "ratio docker / native\t%.1f×\t\t\n", dm/nm)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Both backends hold the CPU quota back until the sandbox's runtime is up; raw docker gets it")
	fmt.Fprintln(w, "from the start, as `docker run --cpus` does, so at 0.085 CPU its container set-up is throttled.")
	return nil
}

// benchColdOnly starts a private daemon on backend and returns the p50 of n cold invokes.
func benchColdOnly(ctx context.Context, backend string, memoryMB, n int) (time.Duration, error) {
	d, client, stop, err := benchDaemon(ctx, backend)
	if err != nil {
		return 0, err
	}
	defer stop()
	_ = d // only its API is used
	p50, _, err := benchColdStarts(ctx, client, n, memoryMB)
	return p50, err
}

// DefaultOptions keep `make bench` to a few minutes.
func DefaultOptions() Options {
	return Options{Runs: 3, ColdStarts: 40, WarmInvokes: 2000, Throughput: 3 * time.Second, Clients: 4,
		ShapingPoints: "default", Backend: "native", MemoryMB: 128, WarmMemoryMB: 896}
}
