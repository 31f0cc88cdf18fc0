package docker

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"

	"github.com/faaslab/faaslab/sandbox"
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

// Two live containers never share a uid, and the uids come from the sandbox range.
func TestDistinctUIDs(t *testing.T) {
	b := newTestBackend(t)
	var uids []string
	for range 2 {
		spec, log := sandboxtest.Spec(t, "listen", "0")
		sb := sandboxtest.CreateStarted(t, b, spec)
		sandboxtest.WaitForLog(t, log, "listening") // the command runs, as the container's user
		uid := strings.Fields(procStatus(t, sb.PID())["Uid"])
		if len(uid) < 2 || uid[0] != uid[1] {
			t.Fatalf("sandbox %s: Uid %v", spec.ID, uid)
		}
		uids = append(uids, uid[0])
	}
	if uids[0] == uids[1] {
		t.Fatalf("two live containers share uid %s", uids[0])
	}
	for _, u := range uids {
		if n, _ := strconv.Atoi(u); n < sandbox.DefaultUIDBase {
			t.Errorf("container uid %s below the range starting at %d", u, sandbox.DefaultUIDBase)
		}
	}
}

// Filling /tmp must not count against the container's memory (attack 5): 512 MB of /tmp
// in a 128 MB function ends in a full disk, not an OOM kill.
func TestTmpNotChargedToMemory(t *testing.T) {
	b := newTestBackend(t)
	if b.tmp == nil {
		t.Skip("this host cannot back /tmp with a disk image (no mkfs.ext4 or loop devices, or the image directory is a tmpfs)")
	}
	spec, log := sandboxtest.Spec(t, "fill", "/tmp", "600")
	spec.TmpBytes = 512 << 20
	spec.CPUQuotaUs = 2 * sandbox.CFSPeriodUs // about memory, not CPU (as the OOM contract test)
	sb := sandboxtest.RunToExit(t, b, spec)
	st, err := sb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if sb.ExitError() != nil || st.OOMKills > 0 {
		t.Fatalf("filling /tmp in a 128 MB container: exit %v, %d OOM kills: %q", sb.ExitError(), st.OOMKills, log.String())
	}
	m := regexp.MustCompile(`wrote=(\d+) err=(.*)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("output %q lacks wrote=", log.String())
	}
	if wrote, _ := strconv.Atoi(m[1]); wrote < 480 || wrote > 512 || !strings.Contains(m[2], "no space left") {
		t.Errorf("wrote %d MB (%s), want about 512 MB then ENOSPC", wrote, m[2])
	}
	// Removed with the sandbox: no mount, no image left.
	if err := sb.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(b.cfg.TmpDir); len(left) > 1 { // the size's template stays
		t.Errorf("after Stop, %s holds %v", b.cfg.TmpDir, left)
	}
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
