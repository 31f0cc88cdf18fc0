package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestRandomHexLengthAndUniqueness(t *testing.T) {
	a, b := RandomHex(7), RandomHex(7)
	if len(a) != 7 || len(b) != 7 || a == b {
		t.Errorf("RandomHex(7) = %q, %q", a, b)
	}
}

func TestBinaryPrefersPrebuiltThenBuildsOnce(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "probe")
	os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755)
	t.Setenv(PrebuiltDirEnv, dir)
	if got := Binary(t, Module+"/internal/testutil/testdata/probe"); got != fake {
		t.Errorf("with a prebuilt copy: %s, want %s", got, fake)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain")
	}
	t.Setenv(PrebuiltDirEnv, "")
	t.Cleanup(RemoveBuilt)
	first := Binary(t, Module+"/internal/testutil/testdata/probe")
	if out, err := exec.Command(first).Output(); err != nil || string(out) != "probe\n" {
		t.Errorf("built binary said %q, %v", out, err)
	}
	if again := Binary(t, Module+"/internal/testutil/testdata/probe"); again != first {
		t.Errorf("built twice: %s then %s", first, again)
	}
}
