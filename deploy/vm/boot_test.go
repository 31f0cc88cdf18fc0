// Package vm holds the tests of run-tests.sh's boot watchdog; the VM runner itself is bash.
package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeQemu stands in for qemu-system-x86_64. It records each start ("probe" for the
// KVM probe boot, which has no -initrd, else its first -accel) and acts as
// FAKE_QEMU_PROBE / FAKE_QEMU_KVM / FAKE_QEMU_TCG say: hang (silent forever), kvmerror
// (qemu's nested-KVM failure text, then paused forever) or pass (a kernel banner and a
// finished run on the console, exit 0).
const fakeQemu = `#!/bin/bash
accel= log= initrd=
while [ $# -gt 0 ]; do
	case $1 in
	-accel) accel=${accel:-$2}; shift ;;
	-serial) [ -n "$log" ] || log=${2#file:}; shift ;;
	-initrd) initrd=$2; shift ;;
	esac
	shift
done
mode=$FAKE_QEMU_TCG
[ "$accel" != kvm ] || mode=$FAKE_QEMU_KVM
if [ -z "$initrd" ]; then accel=probe mode=$FAKE_QEMU_PROBE; fi
echo "$accel" >>"$FAKE_QEMU_CALLS"
[ -z "$FAKE_QEMU_PIDS" ] || echo $$ >>"$FAKE_QEMU_PIDS"
case $mode in
hang) exec sleep 300 ;;
kvmerror)
	echo "KVM internal error. Suberror: 1" >&2
	echo "extra data[0]: 0x0000000000000000 emulation failure" >&2
	exec sleep 300 ;;
pass) printf 'Linux version 6.1.0\n=== FAASLAB-VM ALL-DONE uptime=1.0\n' >>"$log"; exit 0 ;;
esac
exit 3
`

type bootRun struct {
	ok     bool     // boot returned 0
	calls  []string // accelerators qemu was started with, in order
	stderr string
}

// runBoot sources run-tests.sh and calls its boot function with the fake qemu.
func runBoot(t *testing.T, probeMode, kvmMode, tcgMode string, kvmDev string) bootRun {
	t.Helper()
	dir := t.TempDir()
	qemu := filepath.Join(dir, "qemu")
	if err := os.WriteFile(qemu, []byte(fakeQemu), 0o755); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "calls")
	out := filepath.Join(dir, "out")
	// The whole run is bounded by a context: a watchdog that never fires fails the
	// test instead of hanging it (the limit is far above the 2 s silence limit).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", `source ./run-tests.sh && KDIR=`+dir+` && boot`)
	cmd.Env = append(os.Environ(),
		"FAASLAB_VM_QEMU="+qemu, "FAASLAB_VM_KVM_DEV="+kvmDev, "FAASLAB_VM_OUT="+out,
		"FAASLAB_VM_SILENCE=2", "FAASLAB_VM_TIMEOUT=40", "FAASLAB_VM_KVM_PROBE_SECS=2", "FAKE_QEMU_PROBE="+probeMode, "FAASLAB_VM_QUIET=1",
		"FAKE_QEMU_CALLS="+calls, "FAKE_QEMU_KVM="+kvmMode, "FAKE_QEMU_TCG="+tcgMode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("boot did not end within 60s (the watchdog did not fire); stderr:\n%s", stderr.String())
	}
	b, _ := os.ReadFile(calls)
	return bootRun{ok: err == nil, calls: strings.Fields(string(b)), stderr: stderr.String()}
}

// kvmDevice makes a stand-in for an accessible /dev/kvm.
func kvmDevice(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "kvm")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func requireTools(t *testing.T) {
	for _, c := range []string{"bash", "setsid", "stat", "sleep"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s not installed: %v", c, err)
		}
	}
}

func TestBootKVMInternalErrorFallsBackToTCG(t *testing.T) {
	requireTools(t)
	t.Parallel()
	r := runBoot(t, "pass", "kvmerror", "pass", kvmDevice(t))
	if !r.ok || strings.Join(r.calls, " ") != "probe kvm tcg" {
		t.Fatalf("ok=%v calls=%v, want success after probe, kvm, tcg; stderr:\n%s", r.ok, r.calls, r.stderr)
	}
	if !strings.Contains(r.stderr, "KVM internal error") || !strings.Contains(r.stderr, "retrying once under TCG") {
		t.Errorf("stderr does not say why it left KVM:\n%s", r.stderr)
	}
}

func TestBootSilentKVMFallsBackToTCG(t *testing.T) {
	requireTools(t)
	t.Parallel()
	r := runBoot(t, "pass", "hang", "pass", kvmDevice(t))
	if !r.ok || strings.Join(r.calls, " ") != "probe kvm tcg" {
		t.Fatalf("ok=%v calls=%v, want success after probe, kvm, tcg; stderr:\n%s", r.ok, r.calls, r.stderr)
	}
	if !strings.Contains(r.stderr, "no console output for 2s under kvm") {
		t.Errorf("stderr does not name the silent console:\n%s", r.stderr)
	}
}

// TestBootProbeCatchesBrokenKVM: the probe boot hangs silently (this project's nested
// KVM host) or reports a KVM internal error; the real run goes straight to TCG.
func TestBootProbeCatchesBrokenKVM(t *testing.T) {
	requireTools(t)
	t.Parallel()
	for _, probe := range []string{"hang", "kvmerror"} {
		r := runBoot(t, probe, "hang", "pass", kvmDevice(t))
		if !r.ok || strings.Join(r.calls, " ") != "probe tcg" {
			t.Fatalf("probe %s: ok=%v calls=%v, want success after probe, tcg; stderr:\n%s", probe, r.ok, r.calls, r.stderr)
		}
		if !strings.Contains(r.stderr, "KVM probe boot: FAILED") {
			t.Errorf("probe %s: stderr does not report the failed probe:\n%s", probe, r.stderr)
		}
	}
}

func TestBootSilentTCGFailsClearly(t *testing.T) {
	requireTools(t)
	t.Parallel()
	r := runBoot(t, "pass", "hang", "hang", kvmDevice(t))
	if r.ok || strings.Join(r.calls, " ") != "probe kvm tcg" {
		t.Fatalf("ok=%v calls=%v, want failure after probe, kvm, one tcg; stderr:\n%s", r.ok, r.calls, r.stderr)
	}
	if !strings.Contains(r.stderr, "no console output for 2s under tcg") {
		t.Errorf("stderr does not name the silent console:\n%s", r.stderr)
	}
}

func TestBootWithoutKVMDeviceUsesTCG(t *testing.T) {
	requireTools(t)
	t.Parallel()
	r := runBoot(t, "pass", "pass", "pass", filepath.Join(t.TempDir(), "no-kvm"))
	if !r.ok || strings.Join(r.calls, " ") != "tcg" {
		t.Fatalf("ok=%v calls=%v, want one tcg run; stderr:\n%s", r.ok, r.calls, r.stderr)
	}
	if !strings.Contains(r.stderr, "missing or not accessible") {
		t.Errorf("stderr does not say why TCG:\n%s", r.stderr)
	}
}

func TestBootWithoutKVMDeviceSilentTCGFails(t *testing.T) {
	requireTools(t)
	t.Parallel()
	r := runBoot(t, "pass", "pass", "hang", filepath.Join(t.TempDir(), "no-kvm"))
	if r.ok || strings.Join(r.calls, " ") != "tcg" {
		t.Fatalf("ok=%v calls=%v, want one failed tcg run; stderr:\n%s", r.ok, r.calls, r.stderr)
	}
}

// TestInterruptedRunStopsQemu: a run ended by SIGTERM (a CI timeout) or Ctrl-C stops the
// VM it started. qemu leads its own process group, so without the script's trap it ran on.
func TestInterruptedRunStopsQemu(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	qemu := filepath.Join(dir, "qemu")
	if err := os.WriteFile(qemu, []byte(fakeQemu), 0o755); err != nil {
		t.Fatal(err)
	}
	pids := filepath.Join(dir, "pids")
	cmd := exec.Command("bash", "-c", `source ./run-tests.sh && KDIR=`+dir+` && boot_once tcg`)
	cmd.Env = append(os.Environ(), "FAASLAB_VM_QEMU="+qemu, "FAASLAB_VM_OUT="+filepath.Join(dir, "out"),
		"FAASLAB_VM_SILENCE=300", "FAASLAB_VM_TIMEOUT=300", "FAASLAB_VM_QUIET=1",
		"FAKE_QEMU_CALLS="+filepath.Join(dir, "calls"), "FAKE_QEMU_PIDS="+pids, "FAKE_QEMU_TCG=hang")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var qemuPID int
	for range 200 { // wait for the fake qemu to start (a readiness wait, up to 20 s)
		if b, err := os.ReadFile(pids); err == nil && len(b) > 0 {
			qemuPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if qemuPID == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the fake qemu did not start")
	}
	t.Cleanup(func() { syscall.Kill(qemuPID, syscall.SIGKILL) }) // ours, by pid, if the trap failed
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	// stop_qemu waits for qemu's end before the script exits.
	if err := syscall.Kill(qemuPID, 0); err == nil {
		t.Errorf("qemu (pid %d) still runs after the script was terminated", qemuPID)
	}
}
