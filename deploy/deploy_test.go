// Package deploy_test checks the deployment files: the shell scripts pass shellcheck and
// `make install-files` lays out what the systemd unit and user-data.sh expect.
package deploy_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed (Debian package shellcheck; make deps installs it)")
	}
	var scripts []string
	filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".sh") {
			scripts = append(scripts, p)
		}
		return nil
	})
	if len(scripts) < 3 {
		t.Fatalf("found only %v under deploy/", scripts)
	}
	out, err := exec.Command(sc, append([]string{"--severity=style"}, scripts...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck %v: %v\n%s", scripts, err, out)
	}
	t.Logf("shellcheck clean: %v", scripts)
}

// TestInstallLayout: `make install-files DESTDIR=...` puts the binaries, the unit and the
// config where the unit and user-data.sh look for them.
func TestInstallLayout(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	bin, root := t.TempDir(), t.TempDir()
	for _, b := range []string{"faaslab", "faaslab-runtime"} {
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("make", "--no-print-directory", "-C", "..", "install-files", "BIN="+bin, "DESTDIR="+root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install-files: %v\n%s", err, out)
	}
	for _, p := range []string{"usr/local/bin/faaslab", "usr/local/bin/faaslab-runtime", "etc/systemd/system/faaslab.service",
		"etc/faaslab/faaslab.yaml", "usr/local/share/faaslab/prometheus.yml", "usr/local/share/faaslab/grafana-faaslab.json"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("installed tree: %v", err)
		}
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/faaslab.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/faaslab daemon --config /etc/faaslab/faaslab.yaml") {
		t.Errorf("unit's ExecStart does not run the installed binary with the installed config:\n%s", unit)
	}
	// A second install keeps an edited config.
	cfg := filepath.Join(root, "etc/faaslab/faaslab.yaml")
	os.WriteFile(cfg, []byte("listen: 127.0.0.1:3161\n"), 0o644)
	if out, err := exec.Command("make", "--no-print-directory", "-C", "..", "install-files", "BIN="+bin, "DESTDIR="+root).CombinedOutput(); err != nil {
		t.Fatalf("second make install-files: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "listen: 127.0.0.1:3161\n" {
		t.Errorf("reinstall overwrote the edited config: %q", b)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command(sa, "verify", "--root="+root, filepath.Join(root, "etc/systemd/system/faaslab.service")).CombinedOutput(); err != nil {
			t.Logf("systemd-analyze verify (informational, needs a booted systemd): %v\n%s", err, out)
		}
	}
}
