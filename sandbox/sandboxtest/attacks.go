package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"

	"github.com/faaslab/faaslab/sandbox"
)

// TmpEnv is how a backend backs /tmp on this host, for the /tmp attack.
type TmpEnv struct {
	// Dir holds the sandboxes' /tmp images; "" means /tmp is not disk-backed here.
	Dir string
	// Why /tmp is not disk-backed here (said when the attack skips).
	NotBacked string
}

// Attacks runs the hostile tenant's attacks (docs/security.md) against a backend, each as a
// subtest: a keyring secret read across sandboxes, user namespaces and the seccomp filter,
// two live sandboxes sharing a uid, and /tmp charged to memory (then removed on Stop).
func Attacks(t *testing.T, b sandbox.Backend, tmp TmpEnv) {
	t.Run("KeyringNotShared", func(t *testing.T) { keyringNotShared(t, b) })
	t.Run("NoUserNamespaces", func(t *testing.T) { noUserNamespaces(t, b) })
	t.Run("DistinctUIDs", func(t *testing.T) { distinctUIDs(t, b) })
	t.Run("TmpNotChargedToMemory", func(t *testing.T) {
		if tmp.Dir == "" {
			t.Skip(tmp.NotBacked)
		}
		tmpNotChargedToMemory(t, b, tmp.Dir)
	})
}

// A secret one function stores in its user keyring must not be readable by another
// function's sandbox, even after the first has gone (attack 1).
func keyringNotShared(t *testing.T, b sandbox.Backend) {
	desc := "faaslabt-secret-" + testutil.RandomHex(8)
	added := Output(t, b, "keyring-add", desc, "hunter2")
	found := Output(t, b, "keyring-find", desc)
	if strings.Contains(found, "found=hunter2") {
		t.Fatalf("a second sandbox read the first one's keyring secret (add: %q, find: %q)", added, found)
	}
	if !strings.Contains(added, "add_key=operation not permitted") {
		t.Errorf("add_key inside a sandbox: %q, want EPERM from the seccomp filter", added)
	}
}

// clone(CLONE_NEWUSER) and unshare(CLONE_NEWUSER) would give a function uid 0 and full
// capabilities in a namespace of its own (attack 2); the command runs under seccomp.
func noUserNamespaces(t *testing.T, b sandbox.Backend) {
	out := Output(t, b, "userns")
	if strings.Contains(out, "=ok") || !strings.Contains(out, "clone_newuser=") {
		t.Fatalf("user namespace creation inside a sandbox: %q, want both refused", out)
	}
	if s := Output(t, b, "seccomp"); !strings.Contains(s, "seccomp=2") {
		t.Errorf("no seccomp filter on the command: %q", s)
	}
}

// Two live sandboxes never share a uid (so nothing keyed by uid is shared: keyrings,
// rlimits counted per user, signals), and the uids come from the sandbox range.
func distinctUIDs(t *testing.T, b sandbox.Backend) {
	var uids []int
	for range 2 {
		spec, log := Spec(t, "listen", "0")
		sb := CreateStarted(t, b, spec)
		WaitForLog(t, log, "listening") // the command runs: privileges are dropped
		uid, err := procUID(sb.PID())
		if err != nil {
			t.Fatalf("uid of sandbox %s: %v (%s)", spec.ID, err, log.String())
		}
		uids = append(uids, uid)
	}
	if uids[0] == uids[1] {
		t.Fatalf("two live sandboxes share uid %d", uids[0])
	}
	for _, u := range uids {
		if u < sandbox.DefaultUIDBase {
			t.Errorf("sandbox uid %d below the range starting at %d", u, sandbox.DefaultUIDBase)
		}
	}
}

// procUID is the uid of a host pid (/proc/PID/status), which must be the same real and
// effective.
func procUID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)`).FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no Uid line")
	}
	if string(m[1]) != string(m[2]) {
		return 0, fmt.Errorf("real uid %s, effective %s", m[1], m[2])
	}
	return strconv.Atoi(string(m[1]))
}

// Filling /tmp must not count against the function's memory (attack 5): 512 MB of /tmp in
// a 128 MB function ends in a full disk, not an OOM kill; the image goes with the sandbox.
func tmpNotChargedToMemory(t *testing.T, b sandbox.Backend, dir string) {
	spec, log := Spec(t, "fill", "/tmp", "600")
	spec.TmpBytes = 512 << 20
	spec.CPUQuotaUs = 2 * sandbox.CFSPeriodUs // about memory, not CPU (as the OOM contract test)
	sb := RunToExit(t, b, spec)
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
	if wrote, _ := strconv.Atoi(m[1]); wrote < 480 || wrote > 512 || !strings.Contains(m[2], "no space left") {
		t.Errorf("wrote %d MB (%s), want about 512 MB then ENOSPC", wrote, m[2])
	}
	if err := sb.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "template-") { // a size's template stays for the next
			t.Errorf("after Stop, %s still holds %s", dir, e.Name())
		}
	}
}
