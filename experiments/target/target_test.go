package target

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/services/dataset"
	"golang.org/x/sys/unix"
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
	f := &LocalFleet{Count: 3, MachineCPUs: []int{0, 1}, Opts: DaemonOptions{Prefix: "faaslabx", Subnet: "10.212.0.0/16",
		CgroupParent: "/faaslabx", Listen: "127.0.0.1:3121", RuntimePort: 9121, StateDir: "results/.daemon-state"}}
	want := []DaemonOptions{
		{Prefix: "faaslabx", Subnet: "10.212.0.0/18", CgroupParent: "/faaslabx", Listen: "127.0.0.1:3121", RuntimePort: 9121, StateDir: "results/.daemon-state"},
		{Prefix: "faaslabxh1", Subnet: "10.212.64.0/18", CgroupParent: "/faaslabxh1", Listen: "127.0.0.1:3122", RuntimePort: 9122, StateDir: "results/.daemon-state-h1"},
		{Prefix: "faaslabxh2", Subnet: "10.212.128.0/18", CgroupParent: "/faaslabxh2", Listen: "127.0.0.1:3123", RuntimePort: 9123, StateDir: "results/.daemon-state-h2"},
	}
	for i, w := range want { // three hosts on two CPUs: none pinned
		got, err := f.HostOptions(i)
		if err != nil || !reflect.DeepEqual(got, w) {
			t.Errorf("host %d: %+v, %v\nwant %+v", i, got, err, w)
		}
	}
	one := &LocalFleet{Opts: f.Opts}
	if got, _ := one.HostOptions(0); !reflect.DeepEqual(got, f.Opts) {
		t.Errorf("one host: %+v, want the options unchanged", got)
	}
	// At least a CPU per host: the CPUs are split evenly and each host pinned to its share.
	for _, c := range []struct {
		hosts int
		cpus  []int
		want  [][]int
	}{
		{2, []int{0, 1}, [][]int{{0}, {1}}},
		{2, []int{0, 1, 2, 3, 4, 5, 6, 7}, [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}}},
		{3, []int{2, 3, 5, 7}, [][]int{{2}, {3}, {5}}},
	} {
		pinned := &LocalFleet{Count: c.hosts, MachineCPUs: c.cpus, Opts: f.Opts}
		for i, want := range c.want {
			if got, _ := pinned.HostOptions(i); !slices.Equal(got.CPUs, want) {
				t.Errorf("%d hosts on CPUs %v: host %d pinned to %v, want %v", c.hosts, c.cpus, i, got.CPUs, want)
			}
		}
	}
	long := &LocalFleet{Count: 2, Opts: f.Opts}
	long.Opts.Prefix = "faaslabx0ab"
	if _, err := long.HostOptions(1); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("an 11-character prefix for host 1: got %v, want no room for the suffix", err)
	}
	if _, err := SplitSubnet("10.212.0.0/24", 2, 1); err == nil {
		t.Error("a /24 split in two: want an error (each host needs a /24)")
	}
	if _, err := SplitSubnet("fd00::/64", 2, 1); err == nil {
		t.Error("an IPv6 subnet: want an error")
	}
}

// OpenLocalFleet refuses a host count out of range, or options host 1 cannot have, before
// anything starts; otherwise the state directory and log are under the results directory.
func TestOpenLocalFleet(t *testing.T) {
	opts := DaemonOptions{Prefix: "faaslabx", Subnet: "10.212.0.0/16", CgroupParent: "/faaslabx", Listen: "127.0.0.1:3121", RuntimePort: 9121}
	for _, n := range []int{0, MaxHosts + 1} {
		if _, err := OpenLocalFleet(t.TempDir(), "faaslab", opts, n); !errors.Is(err, ErrConfig) {
			t.Errorf("%d hosts: %v, want ErrConfig", n, err)
		}
	}
	for _, bad := range []string{"faaslab-x", "other", "faaslabX"} { // the daemon's own name rule
		o := opts
		o.Prefix = bad
		if _, err := OpenLocalFleet(t.TempDir(), "faaslab", o, 1); err == nil {
			t.Errorf("prefix %q accepted before anything started", bad)
		}
	}
	long := opts
	long.Prefix = "faaslabx0ab"
	if _, err := OpenLocalFleet(t.TempDir(), "faaslab", long, 2); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("an 11-character prefix, two hosts: %v, want no room for the suffix", err)
	}
	dir := t.TempDir()
	f, err := OpenLocalFleet(dir, "faaslab", opts, 2)
	if err != nil {
		t.Fatal(err)
	}
	if f.Opts.StateDir != filepath.Join(dir, ".daemon-state") || f.Opts.Bin != "faaslab" || f.Opts.Log == nil {
		t.Errorf("options %+v: want the state dir under %s, the binary and a log", f.Opts, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "daemon.log")); err != nil {
		t.Error(err)
	}
	if err := errors.Join(f.Close(), f.Close()); err != nil {
		t.Errorf("Close twice: %v", err)
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

// A pinned start: the child runs on the given CPU only (it inherits the forking thread's
// affinity), and the runner's own affinity is back as it was.
func TestStartPinned(t *testing.T) {
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Skip("no sched_getaffinity:", err)
	}
	cpu := -1
	for c := 0; c < 1024 && cpu < 0; c++ {
		if before.IsSet(c) {
			cpu = c
		}
	}
	cmd := exec.Command("grep", "Cpus_allowed_list", "/proc/self/status")
	var out strings.Builder
	cmd.Stdout = &out
	if err := startPinned(cmd, []int{cpu}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(out.String()); len(got) != 2 || got[1] != strconv.Itoa(cpu) {
		t.Errorf("child's %q: want only CPU %d", out.String(), cpu)
	}
	runtime.LockOSThread() // read back on some thread: every thread of this process keeps its mask
	defer runtime.UnlockOSThread()
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil || after != before {
		t.Errorf("the runner's affinity changed: %v → %v (%v)", before.Count(), after.Count(), err)
	}
}

// The hosts of an EndpointFleet carry its client options: a daemon beyond loopback gets
// the token on every request (here a policy PUT).
func TestEndpointFleetSendsToken(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Get("Authorization"):
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	f := &EndpointFleet{Endpoints: []string{srv.URL}, Options: []client.Option{client.WithBearerToken("t0k")}}
	hosts, err := f.Hosts(t.Context(), HostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_ = hosts[0].SetPolicy(t.Context(), Policy{Name: "none"})
	if auth := <-got; auth != "Bearer t0k" {
		t.Errorf("Authorization %q, want Bearer t0k", auth)
	}
}

// noBuckets is an object store that is not the embedded one.
type noBuckets struct{}

func (noBuckets) BucketDir(string) (string, error) {
	return "", errors.New("the object store is not the embedded one")
}

// A daemon without the embedded store — its data routes answer 409, or, from before the
// data routes, 404 — is ErrNoS3Store for both data calls.
func TestHTTPHostNoS3Store(t *testing.T) {
	cache := dataset.NewCache(t.TempDir(), noBuckets{})
	withRoutes := http.NewServeMux() // the daemon's data routes (internal/daemon/services.go)
	withRoutes.HandleFunc("GET /faaslab/v1/data", dataset.MakeListHandler(cache))
	withRoutes.HandleFunc("POST /faaslab/v1/data/{set}", dataset.MakeEnsureHandler(cache))
	withRoutes.HandleFunc("DELETE /faaslab/v1/data/uploads/{run}", dataset.MakeDeleteUploadsHandler(cache))
	for name, h := range map[string]http.Handler{"409": withRoutes, "404": http.NotFoundHandler()} {
		srv := httptest.NewServer(h)
		host := NewHTTPHost(client.New(srv.URL))
		if _, err := host.DataSet(t.Context(), "10mb", 1); !errors.Is(err, ErrNoS3Store) {
			t.Errorf("%s: DataSet: got %v, want ErrNoS3Store", name, err)
		}
		if err := host.DeleteUploads(t.Context(), "run-a"); !errors.Is(err, ErrNoS3Store) {
			t.Errorf("%s: DeleteUploads: got %v, want ErrNoS3Store", name, err)
		}
		srv.Close()
	}
}

// Records reads the daemon's records file as record.Load reads a run's: lines of any
// length, a torn last line (the daemon still writing) skipped, a corrupt middle line an
// error rather than a silently missing record.
func TestHTTPHostRecordsReadsAnyLineLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.jsonl")
	long := `{"request_id":"a","start":"cold","log_tail":"` + strings.Repeat("x", 2<<20) + `"}`
	if err := os.WriteFile(path, []byte(long+"\n"+`{"request_id":"b","start":"warm"}`+"\n"+`{"request_id":"c","st`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &HTTPHost{RecordsPath: path}
	recs, err := h.Records(t.Context())
	if err != nil || len(recs) != 2 || recs["a"].Start != "cold" || recs["b"].Start != "warm" {
		t.Errorf("got %v %v, want records a (cold) and b (warm)", recs, err)
	}
	if err := os.WriteFile(path, []byte(`{"request_id":"a"}`+"\n{not json}\n"+`{"request_id":"b"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Records(t.Context()); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("corrupt middle line: got %v, want an error naming line 2", err)
	}
}
