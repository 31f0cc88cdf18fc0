package main

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/report"
	"github.com/faaslab/faaslab/internal/testutil"
)

// TestE2EExperimentFig5Fig6Quick runs `faaslab experiment run fig5 fig6 --quick` as a user
// would: the runner starts its own daemon (a random private prefix, subnet, cgroup and
// ports) with its iperf3 pool and S3 store. fig5: 1, 8 and 26 co-located 128 MB functions
// warmed and released at once; asserted on the recorded numbers: the aggregate from the
// uplink counters is the NIC's at every N, the clients' sum agrees with the counters (the
// transfers overlapped), the per-function median is near the fair share, every measured
// invocation was warm and joined with the daemon's record. fig6: 16 × 10 MB downloads by
// 1, 8 and 16 functions as a work queue; every object fetched once, the per-download time
// grows with N and so does the aggregate. (Not N = 4: a 128 MB function's S3 client runs
// at about a quarter of the NIC here, so N = 1…4 sit on the knee and only noise orders
// them.) Nothing is left behind.
func TestE2EExperimentFig5Fig6Quick(t *testing.T) {
	bin, rt := experimentBinaries(t, "minutes of iperf3 and S3 traffic through the runner")
	id := testutil.RandomHex(3)
	prefix, cgroup := "faaslabx"+id, "/faaslabx"+id
	// A relative --out from the working directory, as `make run` gives it: the daemon's
	// state directory is then relative too (the object store once broke on that).
	work := t.TempDir()
	out := filepath.Join(work, "results")
	cmd := exec.Command(bin, "experiment", "run", "fig5", "fig6", "--quick", "--out", "results",
		"--runtime-bin", rt, "--daemon-prefix", prefix, "--daemon-cgroup-parent", cgroup,
		"--daemon-subnet", fmt.Sprintf("10.212.%d.0/24", int(id[0])*5%250+1),
		"--daemon-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--daemon-runtime-port", fmt.Sprint(freePort(t)))
	cmd.Dir = work
	t.Cleanup(func() { exec.Command(bin, "cleanup", "--net-prefix", prefix, "--cgroup-parent", cgroup).Run() })
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("experiment run: %v\n%s", err, b)
	}
	run := loadOnlyRun(t, filepath.Join(out, "fig5"), b)
	if len(run.Results) != 3 || run.Manifest.FinishedAt.IsZero() {
		t.Fatalf("%d trial results, finished %v\n%s", len(run.Results), run.Manifest.FinishedAt, b)
	}
	agg, clients, median := map[int]float64{}, map[int]float64{}, map[int]float64{}
	for _, res := range run.Results {
		n := 0
		var rates []float64
		for _, inv := range run.Invocations {
			if inv.TrialID != res.TrialID {
				continue
			}
			n++
			if inv.Status != "ok" || inv.Cold || inv.DurationMs == 0 || inv.RequestID == "" {
				t.Errorf("invocation %+v: want ok, warm and joined with the daemon's record", inv)
			}
			rates = append(rates, inv.BitsPerSec)
		}
		slices.Sort(rates)
		var first, last *record.Sample
		for i := range run.Samples {
			if s := &run.Samples[i]; s.TrialID == res.TrialID {
				if first == nil {
					first = s
				}
				last = s
			}
		}
		if first == nil || n == 0 {
			t.Fatalf("trial %s: %d invocations, samples %v", res.TrialID, n, first != nil)
		}
		bytes := last.Sample.Uplink.DownloadBytes - first.Sample.Uplink.DownloadBytes
		agg[n] = float64(bytes) * 8 / res.ResponseSeconds
		median[n] = rates[len(rates)/2]
		for _, r := range rates {
			clients[n] += r
		}
	}
	t.Logf("aggregate from counters (Mbit/s): N=1 %.0f, N=8 %.0f, N=26 %.0f; clients' sum %.0f, %.0f, %.0f; median %.1f, %.1f, %.1f",
		agg[1]/1e6, agg[8]/1e6, agg[26]/1e6, clients[1]/1e6, clients[8]/1e6, clients[26]/1e6, median[1]/1e6, median[8]/1e6, median[26]/1e6)
	for _, n := range []int{8, 26} {
		// Wide bands: a correctness check of the harness, not a benchmark.
		if r := agg[n] / agg[1]; r < 0.7 || r > 1.3 {
			t.Errorf("aggregate at N=%d is %.2f × N=1's: the NIC is not shared as a whole", n, r)
		}
		// Released together, the clients' own rates add up to what the counters saw.
		if r := clients[n] / agg[n]; r < 0.8 || r > 1.25 {
			t.Errorf("N=%d: clients' sum %.0f vs counters %.0f Mbit/s: the transfers did not overlap", n, clients[n]/1e6, agg[n]/1e6)
		}
		// The fair NIC queue (the default) gives each flow about aggregate/N.
		if fair := agg[n] / float64(n); median[n] < 0.5*fair || median[n] > 1.5*fair {
			t.Errorf("median at N=%d %.1f Mbit/s is far from the fair share %.1f", n, median[n]/1e6, fair/1e6)
		}
	}
	// The report's own numbers: its analysis (counters over the transfer window) holds the
	// aggregate at N = 1, 8, 26 within 10 % of each other and the N = 26 median within 20 %
	// of the fair share, the trend checks for Fig. 5.
	assertReportChecks(t, run, "aggregate bandwidth flat across N", "per-function median near aggregate/N")
	fig6 := loadOnlyRun(t, filepath.Join(out, "fig6"), b)
	checkFig6(t, fig6)
	assertReportChecks(t, fig6, "download time grows with N", "aggregate bandwidth lowest at N=1")
	// The runner stopped its daemon: nothing of its prefix or cgroup is left.
	if left := (&testDaemon{prefix: prefix, cgroup: cgroup}).leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// assertReportChecks redraws run's report and requires each named trend check to be there
// and to pass, logging the numbers it judged.
func assertReportChecks(t *testing.T, run *record.Run, names ...string) {
	t.Helper()
	sum, err := report.Write(run, t.TempDir())
	if err != nil {
		t.Fatalf("report of %s: %v", run.Manifest.Spec, err)
	}
	for _, name := range names {
		found := false
		for _, c := range sum.Checks {
			if strings.Contains(c.Name, name) {
				found = true
				t.Logf("%s: %s: %s", run.Manifest.Spec, c.Name, c.Detail)
				if !c.Pass {
					t.Errorf("%s: check %q failed: %s", run.Manifest.Spec, c.Name, c.Detail)
				}
			}
		}
		if !found {
			t.Errorf("%s: the report has no check %q", run.Manifest.Spec, name)
		}
	}
}

func loadOnlyRun(t *testing.T, specDir string, output []byte) *record.Run {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(specDir, "*"))
	if len(dirs) != 1 {
		t.Fatalf("run directories %v\n%s", dirs, output)
	}
	run, err := record.Load(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// checkFig6: the work queue fetched every object once per trial; the median download
// time and the aggregate rate both grow with N (the paper's Fig. 6).
func checkFig6(t *testing.T, run *record.Run) {
	t.Helper()
	if len(run.Results) != 3 {
		t.Fatalf("fig6: %d trial results", len(run.Results))
	}
	dl, agg := map[int]float64{}, map[int]float64{}
	for _, res := range run.Results {
		var secs []float64
		var bytes int64
		items, workers := map[int]bool{}, map[int]bool{}
		for _, inv := range run.Invocations {
			if inv.TrialID != res.TrialID {
				continue
			}
			if inv.Status != "ok" || inv.Cold || inv.Bytes != 10_000_000 {
				t.Errorf("fig6 invocation %+v", inv)
			}
			secs = append(secs, inv.Seconds)
			bytes += inv.Bytes
			items[inv.Item], workers[inv.Worker] = true, true
		}
		if len(items) != 16 || len(secs) != 16 {
			t.Errorf("%s: %d invocations of %d distinct items, want 16 once each", res.TrialID, len(secs), len(items))
		}
		slices.Sort(secs)
		n := len(workers)
		dl[n], agg[n] = secs[len(secs)/2], float64(bytes)/res.ResponseSeconds
	}
	t.Logf("fig6: median download %.2f / %.2f / %.2f s, aggregate %.0f / %.0f / %.0f MB/s at N = 1 / 8 / 16",
		dl[1], dl[8], dl[16], agg[1]/1e6, agg[8]/1e6, agg[16]/1e6)
	if !(dl[16] > 1.5*dl[1]) || !(agg[8] > 1.5*agg[1]) {
		t.Errorf("fig6: download time should grow with N and the aggregate with it")
	}
}

// TestE2EExperimentTwoHostsQuick runs `faaslab experiment run fig2 fig5 --quick --hosts 2`:
// two private daemons, each an emulated host with its own NIC, share the trials (each
// trial's samples come from one host, both hosts took trials), the fig2 and fig5 checks
// still pass, and neither host leaves anything behind.
func TestE2EExperimentTwoHostsQuick(t *testing.T) {
	bin, rt := experimentBinaries(t, "two daemons and a minute of iperf3 traffic")
	id := testutil.RandomHex(3)
	// Room for host 1's "h1" within 11 characters; "q" is not a hex digit, so no other
	// test's faaslabx<hex> names fall under this prefix's cleanup.
	prefix, cgroup := "faaslabq"+id[:1], "/faaslabq"+id[:1]
	out := t.TempDir()
	listen, runtimePort := freePortPair(t), freePortPair(t) // host 1 takes port+1
	cmd := exec.Command(bin, "experiment", "run", "fig2", "fig5", "--quick", "--hosts", "2", "--out", out,
		"--runtime-bin", rt, "--daemon-prefix", prefix, "--daemon-cgroup-parent", cgroup,
		"--daemon-subnet", fmt.Sprintf("10.213.%d.0/23", int(id[0])*2%250),
		"--daemon-listen", fmt.Sprintf("127.0.0.1:%d", listen),
		"--daemon-runtime-port", fmt.Sprint(runtimePort))
	t.Cleanup(func() {
		for _, p := range []string{prefix, prefix + "h1"} {
			exec.Command(bin, "cleanup", "--net-prefix", p, "--cgroup-parent", "/"+p).Run()
		}
	})
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("experiment run: %v\n%s", err, b)
	}
	hostsSeen := map[string]bool{}
	for _, spec := range []string{"fig2", "fig5"} {
		run := loadOnlyRun(t, filepath.Join(out, spec), b)
		if len(run.Manifest.Endpoints) != 2 {
			t.Errorf("%s endpoints %v: want two hosts", spec, run.Manifest.Endpoints)
		}
		trialHost := map[string]string{}
		for _, s := range run.Samples {
			if h, ok := trialHost[s.TrialID]; ok && h != s.Host {
				t.Errorf("%s: trial %s sampled on %s and %s", spec, s.TrialID, h, s.Host)
			}
			trialHost[s.TrialID] = s.Host
			hostsSeen[s.Host] = true
		}
		if len(trialHost) != len(run.Manifest.Trials) {
			t.Errorf("%s: %d of %d trials sampled", spec, len(trialHost), len(run.Manifest.Trials))
		}
	}
	if len(hostsSeen) != 2 {
		t.Errorf("trials ran on %v: want both hosts", hostsSeen)
	}
	assertReportChecks(t, loadOnlyRun(t, filepath.Join(out, "fig2"), b), "iperf3-up: bandwidth flat across memory", "iperf3-down: bandwidth flat across memory")
	assertReportChecks(t, loadOnlyRun(t, filepath.Join(out, "fig5"), b), "aggregate bandwidth flat across N", "per-function median near aggregate/N")
	if left := (&testDaemon{prefix: prefix, cgroup: cgroup}).leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// freePortPair is a port p of 127.0.0.1 such that p and p+1 were both free.
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := freePort(t)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports on 127.0.0.1")
	return 0
}

// experimentBinaries skips an experiment e2e test that cannot run here (-short, not root,
// no iperf3; heavy says why it is heavy) and returns the faaslab and faaslab-runtime
// binaries.
func experimentBinaries(t *testing.T, heavy string) (bin, runtimeBin string) {
	t.Helper()
	skipHeavy(t, heavy)
	requireRoot(t)
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Skip("iperf3 not installed (make deps installs it)")
	}
	return binary(t, "FAASLAB_BIN", "github.com/faaslab/faaslab/cmd/faaslab"),
		binary(t, "FAASLAB_RUNTIME_BIN", "github.com/faaslab/faaslab/cmd/faaslab-runtime")
}
