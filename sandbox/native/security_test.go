package native

import (
	"testing"

	"github.com/faaslab/faaslab/sandbox/sandboxtest"
)

// The attacks of docs/security.md fail against native sandboxes: the seccomp filter
// refuses keyrings and user namespaces, each sandbox runs as a uid of its own, and /tmp is a
// disk image, not memory. They all failed before those defences existed.
func TestAttacks(t *testing.T) {
	b := newTestBackend(t)
	tmp := sandboxtest.TmpEnv{NotBacked: "this host cannot back /tmp with a disk image (no mkfs.ext4 or loop devices, or the image directory is a tmpfs, as in the test VM)"}
	if nb := b.(*Backend); nb.tmp != nil {
		tmp.Dir = nb.cfg.TmpDir
	}
	sandboxtest.Attacks(t, b, tmp)
}
