package docker

import (
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"

	"github.com/faaslab/faaslab/sandbox/sandboxtest"
)

// The engine's default seccomp profile stays on for our containers: the command runs
// filtered, and the attacks it refuses (docs/security.md, attacks 1 and 2) fail the same
// way as on the native backend.
func TestEngineSeccompProfile(t *testing.T) {
	b := newTestBackend(t)
	if s := sandboxtest.Output(t, b, "seccomp"); !strings.Contains(s, "seccomp=2") {
		t.Errorf("no seccomp filter on the command: %q", s)
	}
	if out := sandboxtest.Output(t, b, "userns"); strings.Contains(out, "=ok") || !strings.Contains(out, "clone_newuser=") {
		t.Errorf("user namespace creation inside a container: %q, want both refused", out)
	}
	desc := "faaslabt-secret-" + testutil.RandomHex(8)
	added := sandboxtest.Output(t, b, "keyring-add", desc, "hunter2")
	if !strings.Contains(added, "add_key=operation not permitted") {
		t.Errorf("add_key inside a container: %q, want EPERM from the seccomp profile", added)
	}
	if found := sandboxtest.Output(t, b, "keyring-find", desc); strings.Contains(found, "found=hunter2") {
		t.Errorf("a second container read the first one's keyring secret: %q", found)
	}
}
