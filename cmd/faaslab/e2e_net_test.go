package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/runtime/handlers"
	"github.com/faaslab/faaslab/sandbox"
)

// TestE2ESandboxPrivilegesOnEveryThread: the built-in bootstrap continues in-process from
// the sandbox init, so every one of its threads must have dropped root.
func TestE2ESandboxPrivilegesOnEveryThread(t *testing.T) {
	d := launchDaemon(t)
	d.createFunction("info", map[string]any{"Handler": "sandboxinfo"})
	res := d.invoke("info", `{}`)
	var info handlers.SandboxInfoResponse
	if err := json.Unmarshal(res.Payload, &info); err != nil || len(info.Threads) == 0 {
		t.Fatalf("sandboxinfo: %s (%v)", res.Payload, err)
	}
	for _, th := range info.Threads {
		if uid, _ := strconv.Atoi(th.UID); uid < sandbox.DefaultUIDBase || th.CapEff != "0000000000000000" || th.CapBnd != "0000000000000000" || th.NoNewPrivs != "1" {
			t.Errorf("thread %+v is not fully unprivileged", th)
		}
	}
	if !strings.Contains(info.Cgroup, d.cgroup+"/") {
		t.Errorf("/proc/self/cgroup %q does not show the host's sandbox parent %s (co-residency probe)", info.Cgroup, d.cgroup)
	}
}

// iperfServers runs one iperf3 server per port in the daemon's remote netns, as the paper
// did (one server per concurrent client), killed by PID at cleanup.
func iperfServers(t *testing.T, d *testDaemon, ports ...int) {
	t.Helper()
	iperf, err := exec.LookPath("iperf3")
	if err != nil {
		t.Skip("iperf3 not installed (make deps installs it)")
	}
	for _, port := range ports {
		cmd := exec.Command("nsenter", "--net=/run/netns/"+d.prefix+"-remote", "--", iperf, "-s", "-p", fmt.Sprint(port), "--forceflush")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr testutil.SyncBuffer // why it did not start, if it does not
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "listening") {
					close(ready)
					break
				}
			}
			for sc.Scan() {
			}
		}()
		select {
		case <-ready:
		case <-time.After(30 * time.Second): // a readiness wait on a loaded box, not a measurement
			t.Fatalf("iperf3 server on port %d did not start; its stderr: %q", port, stderr.String())
		}
	}
}

// remoteAddr is the last usable address of the daemon's /24 (the remote side).
func (d *testDaemon) remoteAddr(t *testing.T) string {
	out, err := exec.Command("nsenter", "--net=/run/netns/"+d.prefix+"-remote", "ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "10.") {
			return strings.Split(f, "/")[0]
		}
	}
	t.Fatalf("no remote address in %s", out)
	return ""
}

// concurrentIperf runs one iperf3 invocation per function at once and returns each
// function's goodput in bit/s.
func concurrentIperf(t *testing.T, d *testDaemon, host string, fns []string, firstPort int) []float64 {
	t.Helper()
	rates := make([]float64, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := fmt.Sprintf(`{"host":%q,"port":%d,"seconds":3,"omit":1}`, host, firstPort+i)
			res, err := d.client.Invoke(context.Background(), client.InvokeRequest{FunctionName: fn, Payload: []byte(payload)})
			if err != nil || res.FunctionError != "" {
				t.Errorf("%s: %v %s", fn, err, res.Payload)
				return
			}
			var r handlers.Iperf3Response
			json.Unmarshal(res.Payload, &r)
			rates[i] = r.BitsPerSecond
		}()
	}
	wg.Wait()
	return rates
}

// TestE2EShapingThroughTheDaemon: sandboxes of the real daemon push iperf3 traffic through
// the emulated NIC; policy fixed caps each, and a policy switched on the running daemon
// takes effect for the next run.
func TestE2EShapingThroughTheDaemon(t *testing.T) {
	testShaping(t)
}

func testShaping(t *testing.T, extra ...string) {
	d := launchDaemon(t, append([]string{"--policy", "fixed", "--fixed-rate", "20mbit", "--nic", "1gbit"}, extra...)...)
	iperfServers(t, d, 5201, 5202)
	host := d.remoteAddr(t)
	fns := []string{"up1", "up2"}
	for _, fn := range fns {
		// 1024 MB: the iperf3 client must not be CPU-bound by the quota at 20 Mbit/s.
		d.createFunction(fn, map[string]any{"Handler": "iperf3", "MemorySize": 1024, "Timeout": 30})
	}
	rates := concurrentIperf(t, d, host, fns, 5201)
	for i, r := range rates {
		// 0.956 × 20 Mbit/s is the best TCP goodput; allow a loose band (this is a
		// correctness check, the accuracy bench measures precision).
		if r < 0.85*0.956*20e6 || r > 1.05*0.956*20e6 {
			t.Errorf("policy fixed 20 Mbit/s: %s got %.1f Mbit/s", fns[i], r/1e6)
		}
	}
	t.Logf("fixed 20 Mbit/s: %.2f and %.2f Mbit/s", rates[0]/1e6, rates[1]/1e6)

	// Switch to equal sharing of a 40 Mbit/s NIC on the running daemon.
	req, _ := http.NewRequest("PUT", "http://"+d.endpoint+"/faaslab/v1/network/policy",
		strings.NewReader(`{"policy":"equal","nic":"40mbit"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("switch policy: %v %v", err, resp)
	}
	resp.Body.Close()
	rates = concurrentIperf(t, d, host, fns, 5201)
	sum := rates[0] + rates[1]
	if sum < 0.85*0.956*40e6 || sum > 1.1*0.956*40e6 {
		t.Errorf("equal on a 40 Mbit/s NIC: aggregate %.1f Mbit/s", sum/1e6)
	}
	t.Logf("equal 40 Mbit/s NIC: %.2f + %.2f Mbit/s", rates[0]/1e6, rates[1]/1e6)

	sample, err := d.client.NetworkSample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sample.Uplink.UploadBytes < 10<<20 || len(sample.Classes) == 0 {
		t.Errorf("sample after ~30 MB of upload: uplink %+v, %d classes", sample.Uplink, len(sample.Classes))
	}
}
