package sandbox

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/faaslab/faaslab/internal/testutil"
)

// A /tmp image mounted on the host (the docker backend's way) that a crashed daemon left
// is unmounted and removed by Reap; Close then leaves no directory.
func TestTmpImageMountReaped(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a loop device needs root")
	}
	dir := TmpDirFor("/faaslabt-" + testutil.RandomHex(6))
	imgs, err := NewTmpImages(dir)
	if errors.Is(err, ErrNoTmpImages) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	id := "faaslabt-" + testutil.RandomHex(8)
	t.Cleanup(func() { imgs.Unmount(id); imgs.Close() })
	mnt, err := imgs.Mount(id, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(mnt); err != nil || st.Mode()&(os.ModeSticky|0o777) != os.ModeSticky|0o777 {
		t.Errorf("mounted /tmp %s: mode %v (%v), want sticky 0777", mnt, st.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mounted(t, mnt) {
		t.Fatalf("%s is not a mount point after Mount", mnt)
	}
	if err := imgs.Reap(func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if mounted(t, mnt) {
		t.Errorf("%s still mounted after Reap", mnt)
	}
	if _, err := os.Stat(filepath.Join(dir, id+".img")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image still there after Reap: %v", err)
	}
	if err := imgs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after Close: %v", dir, err)
	}
}

// mounted reports whether path is a mount point of this mount namespace.
func mounted(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// On a directory in memory the backends fall back to a tmpfs /tmp: OpenTmpImages says so
// in the log and returns no images and no error.
func TestOpenTmpImagesFallsBackOnTmpfs(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skip("no tmpfs at /dev/shm")
	}
	dir := filepath.Join("/dev/shm", "faaslabt-"+testutil.RandomHex(6))
	t.Cleanup(func() { os.RemoveAll(dir) })
	var logs strings.Builder
	imgs, err := OpenTmpImages(dir, slog.New(slog.NewTextHandler(&logs, nil)), "sandbox")
	if imgs != nil || err != nil {
		t.Fatalf("OpenTmpImages on tmpfs = %v, %v; want nil, nil", imgs, err)
	}
	if !strings.Contains(logs.String(), "sandbox /tmp is a tmpfs") {
		t.Errorf("no fallback warning in the log: %q", logs.String())
	}
}
