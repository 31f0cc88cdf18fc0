// Package testutil holds what faaslab's tests share: root checks, unique names, and the
// binaries tests run (built once per test process, or taken prebuilt from
// $FAASLAB_PREBUILT_DIR where there is no Go toolchain, as in the cgroup v2 VM).
package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
)

// PrebuiltDirEnv names a directory of prebuilt static binaries, each named after its
// package's directory (testprog, faaslab-runtime, awslambdago, ...).
const PrebuiltDirEnv = "FAASLAB_PREBUILT_DIR"

// Module is this module's import path.
const Module = "github.com/faaslab/faaslab"

// RequireRoot skips t unless it runs as root; why says what needs root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// RandomHex returns n random hex characters (unique names for kernel objects).
func RandomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

var (
	buildMu sync.Mutex
	built   = map[string]string{} // import path -> binary
)

// Binary returns a static build of the main package at import path pkg (e.g.
// Module+"/cmd/faaslab-runtime"): $FAASLAB_PREBUILT_DIR/<last path element> when it
// exists, else built once per test process into a temp dir. Without a toolchain and a
// prebuilt copy the test is skipped with the reason.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	name := path.Base(pkg)
	if dir := os.Getenv(PrebuiltDirEnv); dir != "" {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("needs %s: no go toolchain to build it and no prebuilt copy in $%s", pkg, PrebuiltDirEnv)
	}
	dir, err := os.MkdirTemp("", "faaslabt-bin")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v", fmt.Errorf("go build %s: %w\n%s", pkg, err, b))
	}
	built[pkg] = out
	return out
}

// RemoveBuilt deletes what Binary built; call it from TestMain after m.Run.
func RemoveBuilt() {
	buildMu.Lock()
	defer buildMu.Unlock()
	for pkg, p := range built {
		os.RemoveAll(filepath.Dir(p))
		delete(built, pkg)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
