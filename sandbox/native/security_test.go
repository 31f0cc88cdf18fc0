package native

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"

	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/sandboxtest"
)

// A secret one function stores in its user keyring must not be readable by another
// function's sandbox, even after the first has gone (docs/security.md, attack 1).
func TestKeyringNotShared(t *testing.T) {
	b := newTestBackend(t)
	desc := "faaslabt-secret-" + testutil.RandomHex(8)
	added := sandboxtest.Output(t, b, "keyring-add", desc, "hunter2")
	found := sandboxtest.Output(t, b, "keyring-find", desc)
	if strings.Contains(found, "found=hunter2") {
		t.Fatalf("a second sandbox read the first one's keyring secret (add: %q, find: %q)", added, found)
	}
	if !strings.Contains(added, "add_key=operation not permitted") {
		t.Errorf("add_key inside a sandbox: %q, want EPERM from the seccomp filter", added)
	}
}

// clone(CLONE_NEWUSER) and unshare(CLONE_NEWUSER) would give a function uid 0 and full
// capabilities in a namespace of its own (attack 2).
func TestNoUserNamespaces(t *testing.T) {
	b := newTestBackend(t)
	out := sandboxtest.Output(t, b, "userns")
	if strings.Contains(out, "=ok") || !strings.Contains(out, "clone_newuser=") {
		t.Fatalf("user namespace creation inside a sandbox: %q, want both refused", out)
	}
	if s := sandboxtest.Output(t, b, "seccomp"); !strings.Contains(s, "seccomp=2") {
		t.Errorf("no seccomp filter on the command: %q", s)
	}
}

// Two live sandboxes never share a uid (so nothing keyed by uid is shared: keyrings,
// rlimits counted per user, signals).
func TestDistinctUIDs(t *testing.T) {
	b := newTestBackend(t)
	var uids []string
	for range 2 {
		spec, log := sandboxtest.Spec(t, "listen", "0")
		sb := sandboxtest.CreateStarted(t, b, spec)
		sandboxtest.WaitForLog(t, log, "listening") // the command runs: privileges are dropped
		uid, err := procUID(sb.PID())
		if err != nil {
			t.Fatalf("uid of sandbox %s: %v (%s)", spec.ID, err, log.String())
		}
		uids = append(uids, uid)
	}
	if uids[0] == uids[1] {
		t.Fatalf("two live sandboxes share uid %s", uids[0])
	}
	for _, u := range uids {
		if n, _ := strconv.Atoi(u); n < sandbox.DefaultUIDBase {
			t.Errorf("sandbox uid %s below the range starting at %d", u, sandbox.DefaultUIDBase)
		}
	}
}

// Filling /tmp must not count against the function's memory (attack 5): 512 MB of /tmp in
// a 128 MB function ends in a full disk, not an OOM kill.
func TestTmpNotChargedToMemory(t *testing.T) {
	b := newTestBackend(t)
	if b.(*Backend).tmp == nil {
		t.Skip("this host cannot back /tmp with a disk image (no mkfs.ext4 or loop devices, or the image directory is a tmpfs, as in the test VM)")
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
		t.Fatalf("filling /tmp in a 128 MB function: exit %v, %d OOM kills: %q", sb.ExitError(), st.OOMKills, log.String())
	}
	m := regexp.MustCompile(`wrote=(\d+) err=(.*)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("output %q lacks wrote=", log.String())
	}
	wrote, _ := strconv.Atoi(m[1])
	if rest := m[2]; wrote < 480 || wrote > 512 || !strings.Contains(rest, "no space left") {
		t.Errorf("wrote %d MB (%s), want about 512 MB then ENOSPC", wrote, m[2])
	}
}

// procUID is the real uid of a host pid (/proc/PID/status).
func procUID(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("no Uid line")
	}
	return string(m[1]), nil
}
