package native

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"

	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/sandboxtest"
)

func requireRoot(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t, "creates cgroups and namespaces")
	if !sandbox.CgroupV2() {
		if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
			t.Skip("no cgroup v1 memory hierarchy and not cgroup v2")
		}
	}
}

// newTestBackend makes a backend under a cgroup parent of its own, capped at c3.large.
func newTestBackend(t *testing.T) sandbox.Backend {
	t.Helper()
	requireRoot(t)
	parent := "/faaslabt-" + testutil.RandomHex(6)
	b, err := New(Config{BackendConfig: sandbox.BackendConfig{CgroupParent: parent}, Host: sandbox.DefaultHostProfile().HostResources()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
		if _, _, err := sandbox.ReadCPUQuota(parent); err == nil {
			t.Errorf("parent cgroup %s left after Close", parent)
		}
	})
	return b
}

func TestContract(t *testing.T) {
	sandboxtest.Run(t, newTestBackend)
}

func TestParentCappedAtProfile(t *testing.T) {
	b := newTestBackend(t).(*Backend)
	quota, period, err := sandbox.ReadCPUQuota(b.cfg.CgroupParent)
	if err != nil {
		t.Fatal(err)
	}
	if quota != 200000 || period != 100000 {
		t.Errorf("c3.large parent: quota %d/%d, want 200000/100000", quota, period)
	}
}

func TestIsolation(t *testing.T) {
	b := newTestBackend(t)
	run := func(args ...string) string {
		spec, log := sandboxtest.Spec(t, args...)
		sb := sandboxtest.RunToExit(t, b, spec)
		if err := sb.ExitError(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, log.String())
		}
		return log.String()
	}
	who := run("whoami")
	for _, want := range []string{"capeff=0000000000000000", "capbnd=0000000000000000", "nonewprivs=1", "hostname=faaslabt-"} {
		if !strings.Contains(who, want) {
			t.Errorf("whoami %q lacks %q", who, want)
		}
	}
	// A uid and gid of the per-sandbox range, the same number.
	if m := regexp.MustCompile(`uid=(\d+) gid=(\d+)`).FindStringSubmatch(who); m == nil || m[1] != m[2] || len(m[1]) < 6 {
		t.Errorf("whoami %q: want uid = gid from %d on", who, sandbox.DefaultUIDBase)
	}
	fs := run("fs")
	for _, want := range []string{"rootwritable=false", "tmpwritable=true", "shadow=0", "rootentries=0", "homeentries=0", "dockersock=false"} {
		if !strings.Contains(fs, want) {
			t.Errorf("fs %q lacks %q", fs, want)
		}
	}
	if links := run("links"); !strings.Contains(links, "links=lo\n") {
		t.Errorf("a fresh sandbox netns should hold only lo: %q", links)
	}
}

func TestReapRemovesLeftovers(t *testing.T) {
	requireRoot(t)
	parent := "/faaslabt-" + testutil.RandomHex(6)
	crashed, err := New(Config{BackendConfig: sandbox.BackendConfig{CgroupParent: parent}})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := sandboxtest.Spec(t, "sleep", "60000")
	sb, err := crashed.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	sb.Start(context.Background())
	// A new backend (a restarted daemon) reaps what the "crashed" one left.
	fresh, err := New(Config{BackendConfig: sandbox.BackendConfig{CgroupParent: parent}})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-sb.Done()
	if _, _, err := sandbox.ReadCPUQuota(sb.CgroupPath()); err == nil {
		t.Error("leftover sandbox cgroup survived Reap")
	}
	if err := fresh.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

// BenchmarkCreateStartExit is the sandbox part of a cold start: cgroup, namespaces, root
// filesystem, privilege drop and exec of a static program that exits at once.
func BenchmarkCreateStartExit(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	parent := "/faaslabt-" + testutil.RandomHex(6)
	be, err := New(Config{BackendConfig: sandbox.BackendConfig{CgroupParent: parent}, Host: sandbox.DefaultHostProfile().HostResources()})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close(context.Background())
	spec, _ := sandboxtest.Spec(b, "echo")
	spec.Resources, _ = sandbox.DefaultHostProfile().ResourcesFor(sandbox.CPUModelPaper, 3008)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spec.ID = "faaslabt-" + testutil.RandomHex(8)
		sb, err := be.Create(context.Background(), spec)
		if err != nil {
			b.Fatal(err)
		}
		if err := sb.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		<-sb.Done()
		b.StopTimer()
		sb.Stop(context.Background())
		b.StartTimer()
	}
}
