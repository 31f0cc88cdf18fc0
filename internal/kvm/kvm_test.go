package kvm

import (
	"errors"
	"os"
	"strings"
	"testing"
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
