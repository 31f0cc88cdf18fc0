package kvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/faaslab/faaslab/internal/probe"
)

// BootProbeTimeout bounds BootProbe: a Linux kernel without an initramfs reaches its
// root-mount panic in about a second under a working KVM.
const BootProbeTimeout = 20 * time.Second

// BootProbe boots kernel alone under KVM with qemu (no initramfs: it panics, and
// panic=-1 with -no-reboot ends qemu) and returns nil when the kernel printed its banner
// and qemu ended within timeout. The small guests of Probe can run where Linux cannot:
// on a nested host this project runs on, KVM runs them but a Linux guest stops right
// after its real-mode setup code, silently.
func BootProbe(ctx context.Context, qemu, kernel string, timeout time.Duration) error {
	dir, err := os.MkdirTemp("", "faaslab-kvm-probe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	console := filepath.Join(dir, "console")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-accel", "kvm", "-cpu", "max", "-m", "256", "-nodefaults",
		"-no-user-config", "-display", "none", "-no-reboot", "-serial", "file:"+console,
		"-kernel", kernel, "-append", "console=ttyS0 panic=-1 loglevel=4")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	out, _ := os.ReadFile(console)
	switch {
	case bytes.Contains(stderr.Bytes(), []byte("KVM internal error")):
		return fmt.Errorf("%w: qemu: %s", ErrBroken, firstLine(stderr.Bytes(), "KVM internal error"))
	case ctx.Err() != nil:
		return fmt.Errorf("%w: a Linux boot under KVM did not end within %v; its console stopped at %q",
			ErrBroken, timeout, lastLine(out))
	case !bytes.Contains(out, []byte("Linux version")):
		return fmt.Errorf("%w: a Linux boot under KVM printed no banner (qemu: %v, %s)", ErrBroken, runErr, lastLine(stderr.Bytes()))
	}
	return nil
}

func firstLine(b []byte, sub string) string {
	for l := range bytes.Lines(b) {
		if bytes.Contains(l, []byte(sub)) {
			return string(bytes.TrimSpace(l))
		}
	}
	return ""
}

func lastLine(b []byte) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.TrimSpace(lines[len(lines)-1]))
}

// vmKernel finds the kernel make test-vm caches (deploy/vm/run-tests.sh), newest last.
func vmKernel() (string, bool) {
	dir := os.Getenv("FAASLAB_VM_CACHE")
	if dir == "" {
		dir = "/var/cache/faaslab-vm"
	}
	ks, _ := filepath.Glob(filepath.Join(dir, "linux-image-*", "vmlinuz"))
	if len(ks) == 0 {
		return "", false
	}
	slices.Sort(ks)
	return ks[len(ks)-1], true
}

// Check is the doctor line: whether the device can run Linux guests.
func Check(dev string) probe.Check {
	ok, detail := Status(dev)
	return probe.Check{Name: "kvm", OK: ok, Detail: detail}
}

// Status summarises KVM for `faaslab doctor`: the ioctl Probe, then, when qemu and the
// test VM's cached kernel are there, BootProbe.
func Status(dev string) (ok bool, detail string) {
	if err := Probe(dev); err != nil {
		if errors.Is(err, ErrNoDevice) {
			return false, err.Error() + ": make test-vm uses TCG (slower, still correct)"
		}
		return false, err.Error() + ": make test-vm uses TCG"
	}
	qemu, qerr := exec.LookPath("qemu-system-x86_64")
	kernel, kok := vmKernel()
	if qerr != nil || !kok {
		return true, "test guests ran (real and long mode); a Linux boot was not tried (needs qemu and the kernel make test-vm caches)"
	}
	if err := BootProbe(context.Background(), qemu, kernel, BootProbeTimeout); err != nil {
		return false, "test guests ran, but " + err.Error() + ": make test-vm uses TCG"
	}
	return true, "works: a Linux kernel boots under KVM; make test-vm uses it"
}
