package kvm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProbeMissingDevice(t *testing.T) {
	err := Probe("/nonexistent/kvm")
	if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("Probe(missing) = %v, want ErrNoDevice", err)
	}
}

// TestProbeHost reports what this machine's /dev/kvm does; it asserts only that the
// answer is one of the three documented outcomes.
func TestProbeHost(t *testing.T) {
	if _, err := os.Stat(DefaultDevice); err != nil {
		t.Skipf("no %s on this host", DefaultDevice)
	}
	err := Probe("")
	t.Logf("Probe(%s) = %v", DefaultDevice, err)
	if err != nil && !errors.Is(err, ErrBroken) && !errors.Is(err, ErrNoDevice) {
		t.Fatalf("Probe error %v wraps neither ErrBroken nor ErrNoDevice", err)
	}
}

func TestStatusMissingDevice(t *testing.T) {
	ok, detail := Status("/nonexistent/kvm")
	if ok || !strings.Contains(detail, "/nonexistent/kvm") || !strings.Contains(detail, "TCG") {
		t.Fatalf("Status(missing) = %v, %q; want not ok, naming the device and TCG", ok, detail)
	}
}

// TestBootProbeBounded: a qemu whose guest never gets anywhere (a silent broken KVM) or
// that reports qemu's KVM internal error makes BootProbe fail with ErrBroken, in bounded time.
func TestBootProbeBounded(t *testing.T) {
	dir := t.TempDir()
	for name, script := range map[string]string{
		"silent":   "#!/bin/sh\nexec sleep 300\n",
		"internal": "#!/bin/sh\necho 'KVM internal error. Suberror: 1' >&2\nexec sleep 300\n",
	} {
		qemu := filepath.Join(dir, name)
		if err := os.WriteFile(qemu, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		err := BootProbe(context.Background(), qemu, "/nonexistent/vmlinuz", 500*time.Millisecond)
		if !errors.Is(err, ErrBroken) {
			t.Errorf("%s: BootProbe = %v, want ErrBroken", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}
