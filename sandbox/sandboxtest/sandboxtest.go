// Package sandboxtest is the contract every sandbox backend satisfies, as a test suite:
// Run it from a backend's tests with a constructor for that backend.
package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/internal/testutil"

	"github.com/faaslab/faaslab/sandbox"
)

// TestProgTarget is where the test program is mounted inside sandboxes.
const TestProgTarget = "/opt/faaslab-testprog/testprog"

// TestProg returns the host path of the static test program (prebuilt in
// $FAASLAB_PREBUILT_DIR, or built once).
func TestProg(t testing.TB) string {
	t.Helper()
	return testutil.Binary(t, testutil.Module+"/sandbox/sandboxtest/testprog")
}

// LogBuffer is a Log writer tests can read while the sandbox writes.
type LogBuffer = testutil.SyncBuffer

// Spec is a 128 MB (c3.large, paper model) spec running testprog with args.
func Spec(t testing.TB, args ...string) (sandbox.Spec, *LogBuffer) {
	t.Helper()
	res, err := sandbox.DefaultHostProfile().ResourcesFor(sandbox.CPUModelPaper, 128)
	if err != nil {
		t.Fatal(err)
	}
	log := &LogBuffer{}
	return sandbox.Spec{
		ID:        "faaslabt-" + testutil.RandomHex(8),
		Function:  "contract",
		Resources: res,
		Command:   append([]string{TestProgTarget}, args...),
		Env:       []string{"PATH=/usr/bin:/bin"},
		Mounts:    []sandbox.Mount{{Source: TestProg(t), Target: TestProgTarget, ReadOnly: true}},
		TmpBytes:  16 << 20,
		Log:       log,
	}, log
}

// RunToExit creates, starts and waits for a sandbox; it is stopped in t.Cleanup.
func RunToExit(t *testing.T, b sandbox.Backend, spec sandbox.Spec) sandbox.Sandbox {
	t.Helper()
	sb := CreateStarted(t, b, spec)
	select {
	case <-sb.Done():
	case <-time.After(90 * time.Second):
		t.Fatalf("sandbox %s did not exit within 90 s", spec.ID)
	}
	return sb
}

// CreateStarted creates and starts a sandbox, stopped in t.Cleanup.
func CreateStarted(t *testing.T, b sandbox.Backend, spec sandbox.Spec) sandbox.Sandbox {
	t.Helper()
	ctx := context.Background()
	sb, err := b.Create(ctx, spec)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { sb.Stop(context.Background()) })
	if err := sb.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	if a, ok := sb.(sandbox.Activator); ok {
		if err := a.Activate(ctx); err != nil {
			t.Fatalf("activate: %v", err)
		}
	}
	return sb
}

// Run runs the contract against the backend newBackend makes (closed by the caller's
// cleanup).
func Run(t *testing.T, newBackend func(t *testing.T) sandbox.Backend) {
	t.Run("RunsCommandAndCapturesLog", func(t *testing.T) {
		b := newBackend(t)
		spec, log := Spec(t, "echo", "hello", "contract")
		sb := RunToExit(t, b, spec)
		if err := sb.ExitError(); err != nil {
			t.Errorf("exit: %v (log %q)", err, log.String())
		}
		if !strings.Contains(log.String(), "hello contract") {
			t.Errorf("log %q lacks the command's output", log.String())
		}
	})
	t.Run("HeldUntilStart", func(t *testing.T) {
		b := newBackend(t)
		spec, log := Spec(t, "echo", "released")
		sb, err := b.Create(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Stop(context.Background())
		if _, err := os.Stat(sb.NetNSPath()); err != nil {
			t.Errorf("netns of a held sandbox: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		if strings.Contains(log.String(), "released") {
			t.Fatal("command ran before Start")
		}
		sb.Start(context.Background())
		<-sb.Done()
		if !strings.Contains(log.String(), "released") {
			t.Errorf("after Start: log %q", log.String())
		}
	})
	t.Run("CPUQuotaAndMemoryLimitReadBack", func(t *testing.T) {
		b := newBackend(t)
		spec, _ := Spec(t, "sleep", "60000")
		sb := CreateStarted(t, b, spec)
		quota, period, err := sandbox.ReadCPUQuota(sb.CgroupPath())
		if err != nil {
			t.Fatal(err)
		}
		if quota != 8500 || period != 100000 {
			t.Errorf("128 MB on c3.large: quota %d/%d, want 8500/100000", quota, period)
		}
		limit, err := sandbox.ReadMemoryLimit(sb.CgroupPath())
		if err != nil {
			t.Fatal(err)
		}
		if limit != 128<<20 {
			t.Errorf("memory limit %d, want %d", limit, 128<<20)
		}
	})
	t.Run("ConcurrentSandboxes", func(t *testing.T) {
		b := newBackend(t)
		const n = 4
		var sbs []sandbox.Sandbox
		var logs []*LogBuffer
		for i := 0; i < n; i++ {
			spec, log := Spec(t, "echo", fmt.Sprintf("sandbox-%d", i))
			sbs = append(sbs, CreateStarted(t, b, spec))
			logs = append(logs, log)
		}
		seen := map[string]bool{}
		for i, sb := range sbs {
			<-sb.Done()
			if !strings.Contains(logs[i].String(), fmt.Sprintf("sandbox-%d", i)) {
				t.Errorf("sandbox %d log %q", i, logs[i].String())
			}
			seen[sb.CgroupPath()] = true
		}
		if len(seen) != n {
			t.Errorf("%d sandboxes share cgroups: %v", n, seen)
		}
	})
	t.Run("OOMIsKilledAndCounted", func(t *testing.T) {
		b := newBackend(t)
		spec, log := Spec(t, "alloc", "400")
		// This is about memory: at 0.085 CPU touching 128 MB of pages takes long (minutes
		// under the VM's software emulation), so the CPU quota is the host's.
		spec.CPUQuotaUs = 2 * sandbox.CFSPeriodUs
		sb := RunToExit(t, b, spec)
		if sb.ExitError() == nil {
			t.Fatalf("allocating 400 MB under a 128 MB limit exited cleanly: %q", log.String())
		}
		st, err := sb.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.OOMKills == 0 {
			t.Errorf("no OOM kill counted (exit %v)", sb.ExitError())
		}
		if st.MemoryPeakBytes < 100<<20 || st.MemoryPeakBytes > 129<<20 {
			t.Errorf("peak %d bytes, want near the 128 MB limit", st.MemoryPeakBytes)
		}
	})
	t.Run("StopRemovesEverything", func(t *testing.T) {
		b := newBackend(t)
		spec, _ := Spec(t, "sleep", "60000")
		sb := CreateStarted(t, b, spec)
		cg := sb.CgroupPath()
		if err := sb.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sb.Done():
		default:
			t.Error("Done not closed after Stop")
		}
		if _, _, err := sandbox.ReadCPUQuota(cg); err == nil {
			t.Errorf("cgroup %s still present after Stop", cg)
		}
		if err := sb.Stop(context.Background()); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

// Output runs testprog with args in a fresh 128 MB sandbox of b until it exits and returns
// what it printed; a non-zero exit fails the test.
func Output(t *testing.T, b sandbox.Backend, args ...string) string {
	t.Helper()
	spec, log := Spec(t, args...)
	sb := RunToExit(t, b, spec)
	if err := sb.ExitError(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, log.String())
	}
	return log.String()
}

// WaitForLog waits until log holds want (the sandbox's command got that far).
func WaitForLog(t *testing.T, log *LogBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(log.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sandbox log %q lacks %q after 30 s", log.String(), want)
		}
	}
}
