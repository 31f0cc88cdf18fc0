package docker

import (
	"strings"
	"testing"

	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/sandboxtest"
)

// The attacks of docs/security.md fail against containers too: the engine's default
// seccomp profile refuses keyrings and user namespaces, each container runs as a uid of its
// own, and /tmp is a disk image, not memory.
func TestAttacks(t *testing.T) {
	b := newTestBackend(t)
	tmp := sandboxtest.TmpEnv{NotBacked: "this host cannot back /tmp with a disk image (no mkfs.ext4 or loop devices, or the image directory is a tmpfs)"}
	if b.tmp != nil {
		tmp.Dir = b.cfg.TmpDir
	}
	sandboxtest.Attacks(t, b, tmp)
}

// The engine's default seccomp profile must never be switched off.
func TestContainerConfigKeepsSeccomp(t *testing.T) {
	b := &Backend{cfg: Config{}.withDefaults()}
	_, hc := b.containerConfig(testSpec(t, "/bin/true"), identity{uid: sandbox.DefaultUIDBase})
	for _, o := range hc.SecurityOpt {
		if strings.HasPrefix(o, "seccomp") {
			t.Errorf("SecurityOpt %q: the engine's default profile must apply", o)
		}
	}
	if hc.Privileged || len(hc.CapAdd) > 0 {
		t.Errorf("privileged %v, cap add %v", hc.Privileged, hc.CapAdd)
	}
}
