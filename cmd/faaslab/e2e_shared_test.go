package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/daemon"
	"github.com/faaslab/faaslab/netshape/shape"
)

// TestCheckNetworkMode: wrong combinations fail at start with daemon.ErrNetworkMode; isolated
// accepts every policy as before.
func TestCheckNetworkMode(t *testing.T) {
	netprio := shape.PolicyConfig{Name: shape.PolicyNetPrio}
	equal := shape.PolicyConfig{Name: shape.PolicyEqual}
	cfg := func(mode, backend string) daemon.Config {
		c := daemon.DefaultConfig()
		c.Network.Mode, c.Backend = mode, backend
		return c
	}
	for _, tc := range []struct {
		cfg    daemon.Config
		policy shape.PolicyConfig
		ok     bool
	}{
		{cfg("isolated", "native"), equal, true},
		{cfg("", "docker"), netprio, true},
		{cfg("shared", "native"), netprio, true},
		{cfg("shared", "native"), equal, false},
		{cfg("shared", "docker"), netprio, false},
		{cfg("bridged", "native"), netprio, false},
	} {
		err := daemon.CheckNetworkMode(tc.cfg, tc.policy)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, daemon.ErrNetworkMode)) {
			t.Errorf("mode %q backend %q policy %s: err %v, want ok=%v", tc.cfg.Network.Mode, tc.cfg.Backend, tc.policy.Name, err, tc.ok)
		}
	}
}

// netPrioMounts lists mount points of this daemon's private net_prio mount (prefix).
func netPrioMounts(prefix string) []string {
	data, _ := os.ReadFile("/proc/self/mounts")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if fs := strings.Fields(l); len(fs) > 1 && strings.Contains(fs[1], prefix) {
			out = append(out, fs[1])
		}
	}
	return out
}

// sharedCgroupDirs lists the daemon's net_prio cgroup parents wherever net_prio is mounted.
func sharedCgroupDirs(prefix string) []string {
	var out []string
	for _, dir := range append(netPrioMounts(prefix), "/sys/fs/cgroup/net_prio", "/sys/fs/cgroup/net_cls,net_prio", "/run/"+prefix+"-netprio") {
		if _, err := os.Stat(filepath.Join(dir, prefix)); err == nil {
			out = append(out, filepath.Join(dir, prefix))
		}
	}
	return out
}

// TestE2ESharedNetPrio: sandboxes share the host netns; net_prio maps each to its HTB class
// on the uplink, so under policy netprio (∝ memory) two concurrent uploads of 512 and
// 1536 MB sandboxes split an 80 Mbit/s NIC about 1:3. Stop leaves no cgroup, mount or link.
func TestE2ESharedNetPrio(t *testing.T) {
	requireRoot(t)
	if err := shape.DetectFeatures().Check(shape.PolicyConfig{Name: shape.PolicyNetPrio}); err != nil {
		t.Skipf("network mode shared needs cgroup v1 net_prio and htb: %v", err)
	}
	d := launchDaemon(t, "--network-mode", "shared", "--policy", "netprio", "--nic", "80mbit")
	iperfServers(t, d, 5201, 5202)
	host := d.remoteAddr(t)
	fns := []string{"small", "big"}
	// 512 and 1536 MB: a 1:3 share (20 and 60 Mbit/s) with CPU quotas (0.34 and 1 CPU)
	// that keep the iperf3 client from being CPU-bound at those rates.
	d.createFunction("small", map[string]any{"Handler": "iperf3", "MemorySize": 512, "Timeout": 30})
	d.createFunction("big", map[string]any{"Handler": "iperf3", "MemorySize": 1536, "Timeout": 30})
	rates := concurrentIperf(t, d, host, fns, 5201)
	t.Logf("netprio, shared netns, 80 Mbit/s NIC: 512 MB %.2f Mbit/s, 1536 MB %.2f Mbit/s", rates[0]/1e6, rates[1]/1e6)
	if rates[0] <= 0 || rates[1] <= 0 {
		t.Fatalf("no goodput: %v", rates)
	}
	if ratio := rates[1] / rates[0]; ratio < 2.4 || ratio > 3.6 {
		t.Errorf("1536:512 MB upload ratio %.2f, want about 3 (2.4–3.6): net_prio did not classify", ratio)
	}
	if sum := rates[0] + rates[1]; sum < 0.8*0.956*80e6 || sum > 1.05*0.956*80e6 {
		t.Errorf("aggregate %.1f Mbit/s, want about 0.956 × 80", sum/1e6)
	}
	if dirs := sharedCgroupDirs(d.prefix); len(dirs) == 0 {
		t.Errorf("no net_prio cgroup parent of %s while the daemon runs", d.prefix)
	}
	for _, l := range d.leftovers() {
		fs := strings.Fields(l) // "link: 7: NAME@ifN: <...>"
		if len(fs) < 3 || fs[0] != "link:" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fs[2], ":"), "@")
		if name != d.prefix+"0" && name != d.prefix+"-up" {
			t.Errorf("mode shared made a link besides the bridge and the uplink: %s", l)
		}
	}

	d.stop()
	if left := d.leftovers(); len(left) > 0 {
		t.Errorf("left after stop: %v", left)
	}
	if dirs := sharedCgroupDirs(d.prefix); len(dirs) > 0 {
		t.Errorf("net_prio cgroups left after stop: %v", dirs)
	}
	if m := netPrioMounts(d.prefix); len(m) > 0 {
		t.Errorf("net_prio mounts left after stop: %v", m)
	}
}

// TestE2ESharedModeCrashIsCleanedUp: a daemon in network mode shared killed with a warm
// sandbox leaves its net_prio cgroups (and its own mount of net_prio); `faaslab cleanup`
// with its names removes them with everything else.
func TestE2ESharedModeCrashIsCleanedUp(t *testing.T) {
	requireRoot(t)
	if err := shape.DetectFeatures().Check(shape.PolicyConfig{Name: shape.PolicyNetPrio}); err != nil {
		t.Skipf("network mode shared needs cgroup v1 net_prio and htb: %v", err)
	}
	d := launchDaemon(t, "--network-mode", "shared", "--policy", "netprio")
	d.createFunction("warm", nil)
	if res := d.invoke("warm", `{}`); res.FunctionError != "" {
		t.Fatalf("invoke: %s", res.Payload)
	}
	if len(sharedCgroupDirs(d.prefix)) == 0 {
		t.Fatal("no net_prio cgroup of the daemon while its sandbox is warm")
	}
	d.cmd.Process.Kill() // by pid: a crash, nothing torn down
	<-d.done
	if len(sharedCgroupDirs(d.prefix)) == 0 {
		t.Fatal("the killed daemon's net_prio cgroups are gone already: nothing left to clean up")
	}
	bin := binary(t, "FAASLAB_BIN", "github.com/faaslab/faaslab/cmd/faaslab")
	if out, err := exec.Command(bin, "cleanup", "--net-prefix", d.prefix, "--cgroup-parent", d.cgroup).CombinedOutput(); err != nil {
		t.Fatalf("faaslab cleanup: %v\n%s", err, out)
	}
	if dirs := sharedCgroupDirs(d.prefix); len(dirs) > 0 {
		t.Errorf("net_prio cgroups left after cleanup: %v", dirs)
	}
	if m := netPrioMounts(d.prefix); len(m) > 0 {
		t.Errorf("the daemon's net_prio mount left after cleanup: %v", m)
	}
	if left := d.leftovers(); len(left) > 0 {
		t.Errorf("left after cleanup: %v", left)
	}
}
