package target

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Daemons given with --endpoint cannot be restarted with another CPU model: a spec that
// needs two is refused before anything runs.
func TestEndpointFleetAcceptsOneConfiguration(t *testing.T) {
	f := &EndpointFleet{Endpoints: []string{"http://127.0.0.1:1"}}
	paper := HostConfig{Profile: "c3.large", Backend: "native", CPUModel: "paper"}
	lambda := paper
	lambda.CPUModel = "lambda"
	if err := f.Accepts([]HostConfig{paper, paper}); err != nil {
		t.Errorf("one configuration refused: %v", err)
	}
	if err := f.Accepts([]HostConfig{paper, lambda}); !errors.Is(err, ErrConfig) {
		t.Errorf("two CPU models: got %v, want ErrConfig", err)
	}
	if err := (&LocalFleet{}).Accepts([]HostConfig{paper, lambda}); err != nil {
		t.Errorf("the private daemon restarts: %v", err)
	}
}

// Several emulated hosts on one machine never share a name, subnet, port or state
// directory: host 0 keeps the given ones (on its share of the subnet), the others append
// h<i>; a subnet too small for them is refused.
func TestLocalFleetHostOptions(t *testing.T) {
	f := &LocalFleet{Count: 3, Opts: DaemonOptions{Prefix: "faaslabx", Subnet: "10.212.0.0/16",
		CgroupParent: "/faaslabx", Listen: "127.0.0.1:3121", RuntimePort: 9121, StateDir: "results/.daemon-state"}}
	want := []DaemonOptions{
		{Prefix: "faaslabx", Subnet: "10.212.0.0/18", CgroupParent: "/faaslabx", Listen: "127.0.0.1:3121", RuntimePort: 9121, StateDir: "results/.daemon-state"},
		{Prefix: "faaslabxh1", Subnet: "10.212.64.0/18", CgroupParent: "/faaslabxh1", Listen: "127.0.0.1:3122", RuntimePort: 9122, StateDir: "results/.daemon-state-h1"},
		{Prefix: "faaslabxh2", Subnet: "10.212.128.0/18", CgroupParent: "/faaslabxh2", Listen: "127.0.0.1:3123", RuntimePort: 9123, StateDir: "results/.daemon-state-h2"},
	}
	for i, w := range want {
		got, err := f.HostOptions(i)
		if err != nil || got != w {
			t.Errorf("host %d: %+v, %v\nwant %+v", i, got, err, w)
		}
	}
	one := &LocalFleet{Opts: f.Opts}
	if got, _ := one.HostOptions(0); got != f.Opts {
		t.Errorf("one host: %+v, want the options unchanged", got)
	}
	if _, err := SplitSubnet("10.212.0.0/24", 2, 1); err == nil {
		t.Error("a /24 split in two: want an error (each host needs a /24)")
	}
	if _, err := SplitSubnet("fd00::/64", 2, 1); err == nil {
		t.Error("an IPv6 subnet: want an error")
	}
}

// Host i > 0 finds host 0's dataset cache through a symlink (generated once), made again
// when stale and left alone when right.
func TestShareDatasets(t *testing.T) {
	dir := t.TempDir()
	host0, host1 := filepath.Join(dir, "state"), filepath.Join(dir, "state-h1")
	for range 2 {
		if err := shareDatasets(host0, host1); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host0, "datasets", "manifest.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host1, "datasets", "manifest.json")); err != nil {
		t.Errorf("host 1 does not see host 0's cache: %v", err)
	}
}
