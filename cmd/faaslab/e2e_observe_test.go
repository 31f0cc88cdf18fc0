package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/internal/metricstest"
)

// TestE2EPrometheusObservesCoLocation: a real Prometheus scrapes a running daemon every
// second while three co-located sandboxes push iperf3 traffic under policy fixed 40 Mbit/s
// and a 128 MB function burns CPU at its 0.085-CPU quota. Through Prometheus's query API:
// each function's transmit rate is within 10 % of the shaped rate, the uplink carries
// their sum, the CPU-bound function was throttled and the experiment progress the runner
// reported is there.
func TestE2EPrometheusObservesCoLocation(t *testing.T) {
	skipHeavy(t, "a Prometheus server")
	const rate = 40e6 // bit/s per sandbox
	requirePrometheus(t)
	d := launchDaemon(t, "--policy", "fixed", "--fixed-rate", "40mbit", "--nic", "1gbit")
	prom := startPrometheus(t, d.endpoint)
	ports := []int{5201, 5202, 5203}
	iperfServers(t, d, ports...)
	host := d.remoteAddr(t)
	fns := []string{"net1", "net2", "net3"}
	for _, fn := range fns {
		// 1024 MB: the iperf3 client is not CPU-bound at 40 Mbit/s.
		d.createFunction(fn, map[string]any{"Handler": "iperf3", "MemorySize": 1024, "Timeout": 60})
	}
	d.createFunction("burn", map[string]any{"Handler": "cpu", "MemorySize": 128, "Timeout": 60})
	progress := func(done int) {
		body := fmt.Sprintf(`{"spec":"e2e-colocation","total":4,"done":%d}`, done)
		req, _ := http.NewRequest(http.MethodPut, "http://"+d.endpoint+"/faaslab/v1/experiment/progress", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("report progress: %v %v", err, resp)
			return
		}
		resp.Body.Close()
	}
	progress(0)

	var mu sync.Mutex
	done, firstEnd := 0, time.Time{}
	finished := func(iperf bool) {
		mu.Lock()
		defer mu.Unlock()
		done++
		progress(done)
		if now := time.Now(); iperf && (firstEnd.IsZero() || now.Before(firstEnd)) {
			firstEnd = now
		}
	}
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := fmt.Sprintf(`{"host":%q,"port":%d,"seconds":8}`, host, ports[i])
			res, err := d.client.Invoke(context.Background(), client.InvokeRequest{FunctionName: fn, Payload: []byte(payload)})
			if err != nil || res.FunctionError != "" {
				t.Errorf("%s: %v %s", fn, err, res.Payload)
			}
			finished(true)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err := d.client.Invoke(context.Background(), client.InvokeRequest{FunctionName: "burn", Payload: []byte(`{"ms":6000}`)})
		if err != nil || res.FunctionError != "" {
			t.Errorf("burn: %v %s", err, res.Payload)
		}
		finished(false)
	}()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// A 5 s window ending 1.5 s before the first iperf3 run returned lies inside every
	// run's 8 s transfer (cold starts come before it).
	at := firstEnd.Add(-1500 * time.Millisecond)
	prom.waitScrapedAfter(t, time.Now())

	tx := prom.mustQuery(`rate(faaslab_sandbox_network_transmit_bytes_total{function=~"net.*"}[5s]) * 8`, at)
	if len(tx) != len(fns) {
		t.Fatalf("transmit rate: %d series (%v), want %d", len(tx), tx, len(fns))
	}
	var sum float64
	for _, s := range tx {
		t.Logf("%s: %.2f Mbit/s through the sandbox's veth (shaped to %.0f)", s.Labels["function"], s.Value/1e6, rate/1e6)
		if math.Abs(s.Value-rate) > 0.1*rate {
			t.Errorf("%s transmits %.2f Mbit/s, want %.0f ± 10 %%", s.Labels["function"], s.Value/1e6, rate/1e6)
		}
		sum += s.Value
	}
	up := prom.mustQuery(`rate(faaslab_uplink_transmit_bytes_total[5s]) * 8`, at)
	if len(up) != 1 || math.Abs(up[0].Value-sum) > 0.1*sum {
		t.Errorf("uplink transmit %v, want the sandboxes' sum %.2f Mbit/s ± 10 %%", up, sum/1e6)
	}
	cfgRate := prom.mustQuery(`faaslab_shaping_configured_rate_bytes_per_second{function="net1",direction="upload"} * 8`, at)
	if len(cfgRate) != 1 || cfgRate[0].Value != rate {
		t.Errorf("configured rate of net1: %v, want %.0f bit/s", cfgRate, rate)
	}

	now := time.Time{}
	throttled := prom.mustQuery(`faaslab_function_cpu_throttled_seconds_total{function="burn"}`, now)
	if len(throttled) != 1 || throttled[0].Value <= 0 {
		t.Errorf("throttled seconds of the 128 MB CPU-bound function: %v, want > 0", throttled)
	} else {
		t.Logf("burn: throttled %.2f s", throttled[0].Value)
	}
	// 6 s of wall time at 0.085 CPU: about 0.5 s of CPU, never more than the quota allows
	// (plus one period of slack).
	cpu := prom.mustQuery(`faaslab_function_cpu_usage_seconds_total{function="burn"}`, now)
	if len(cpu) != 1 || cpu[0].Value <= 0 || cpu[0].Value > 0.085*6+0.3 {
		t.Errorf("CPU seconds of burn: %v, want (0, %.2f]", cpu, 0.085*6+0.3)
	} else {
		t.Logf("burn: %.3f CPU seconds in 6 s", cpu[0].Value)
	}
	inv := prom.mustQuery(`sum(faaslab_invocations_total{outcome="success"})`, now)
	if len(inv) != 1 || inv[0].Value != 4 {
		t.Errorf("successful invocations: %v, want 4", inv)
	}
	billed := prom.mustQuery(`faaslab_billed_byte_seconds_total{function="burn"} / 2^30`, now)
	if len(billed) != 1 || billed[0].Value < 6*0.125 {
		t.Errorf("billed GB-s of burn: %v, want ≥ 6 s × 0.125 GB", billed)
	}
	prog := prom.mustQuery(`faaslab_experiment_trials_done / faaslab_experiment_trials_planned`, now)
	info := prom.mustQuery(`faaslab_experiment_info{spec="e2e-colocation"}`, now)
	if len(prog) != 1 || prog[0].Value != 1 || len(info) != 1 {
		t.Errorf("experiment progress: done/planned %v, info %v; want 1 and one series", prog, info)
	}

}

// TestE2EMetricsLintAndDashboard: a daemon with every collector registered and labelled
// series present (shaping policy, a sandbox, an invocation, experiment progress) exports
// metrics that pass promlint, its cgroup collector sees the CPU quota throttle a 128 MB
// CPU-bound function (cgroup v1 here, v2 in the VM), and every PromQL expression of the
// Grafana dashboard names only series it exports (FAASLAB_DASHBOARD checks another file:
// make test-dashboard-broken).
func TestE2EMetricsLintAndDashboard(t *testing.T) {
	d := launchDaemon(t, "--policy", "fixed", "--fixed-rate", "100mbit")
	d.createFunction("burn", map[string]any{"Handler": "cpu", "MemorySize": 128, "Timeout": 30})
	if res := d.invoke("burn", `{"ms":600}`); res.FunctionError != "" {
		t.Fatalf("burn: %s", res.Payload)
	}
	req, _ := http.NewRequest(http.MethodPut, "http://"+d.endpoint+"/faaslab/v1/experiment/progress",
		strings.NewReader(`{"spec":"lint","total":2,"done":1}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("report progress: %v %v", err, resp)
	}
	metrics := scrapeGatherer("http://"+d.endpoint+"/metrics", "")
	if v := metricstest.Value(t, metrics, "faaslab_function_cpu_throttled_seconds_total", prometheus.Labels{"function": "burn"}); v <= 0 {
		t.Errorf("throttled seconds of a 128 MB function burning 600 ms: %v, want > 0", v)
	}
	t.Run("promlint", func(t *testing.T) {
		problems, err := testutil.GatherAndLint(metrics)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	})
	t.Run("dashboard", func(t *testing.T) {
		path := os.Getenv("FAASLAB_DASHBOARD")
		if path == "" {
			path = deployDashboard
		}
		if _, err := os.Stat(path); err != nil && os.Getenv("FAASLAB_VM") == "1" {
			t.Skip("the VM carries test binaries, not deploy/")
		}
		checkDashboard(t, path, metrics)
	})
}
