// Package ns runs code inside network namespaces and creates named ones, like CNI's
// pkg/ns: every namespace switch happens on a locked OS thread that never goes back to
// the Go scheduler in the wrong namespace, and a panic inside is re-raised outside.
package ns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named network namespaces live (as with `ip netns add`).
const Dir = "/run/netns"

// ErrExists: a named netns of that name already exists.
var ErrExists = errors.New("network namespace already exists")

// Do runs fn with the calling OS thread in the network namespace at nsPath (any path
// whose open fd is a netns: /run/netns/NAME, /proc/PID/ns/net) and returns fn's error.
//
// fn runs on a fresh goroutine locked to its OS thread, so the caller's thread never
// changes namespace. Sockets fn creates stay in the namespace after Do returns;
// goroutines fn starts do NOT run in it (they may run on any thread). If moving the
// thread back fails, the thread is left locked so that the Go runtime destroys it when
// the goroutine ends instead of reusing a thread in the wrong namespace.
// A panic in fn is re-raised in the caller.
func Do(nsPath string, fn func() error) error {
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer target.Close()
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panic = p
			}
			done <- r
		}()
		r.err = doLocked(target, nsPath, fn)
	}()
	r := <-done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// doLocked locks the thread, enters target, runs fn and moves back. It unlocks the
// thread only when the thread is known to be back in its original namespace.
func doLocked(target netns.NsHandle, nsPath string, fn func() error) (err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		// setns failed, so the thread did not move: safe to reuse.
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s: %w", nsPath, err)
	}
	// Deferred so that a panic in fn also moves the thread back (or kills it).
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			err = errors.Join(err, fmt.Errorf("return from network namespace %s (thread discarded): %w", nsPath, rerr))
			return // still locked: the runtime ends this thread with the goroutine
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// NamedPath is the path of the named netns name.
func NamedPath(name string) string { return filepath.Join(Dir, name) }

// CreateNamed creates a new, empty network namespace pinned at /run/netns/NAME
// (what `ip netns add NAME` does) and returns its path. ErrExists if the name is
// taken. Its loopback is down, as with ip netns add.
func CreateNamed(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("create network namespace %q: name must be a plain file name", name)
	}
	if err := ensureDir(); err != nil {
		return "", err
	}
	path := NamedPath(name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create network namespace %s: %w", name, ErrExists)
		}
		return "", fmt.Errorf("create network namespace mount point %s: %w", path, err)
	}
	f.Close()
	if err := bindNewNetNS(path); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("create network namespace %s: %w", name, err)
	}
	return path, nil
}

// bindNewNetNS unshares a new netns on a throw-away thread and bind-mounts it on path.
// The thread is never unlocked, so the runtime destroys it (and its netns reference)
// when the goroutine returns.
func bindNewNetNS(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare net: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind-mount netns on %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// ensureDir makes /run/netns a shared mount point, as iproute2 does, so that
// namespaces pinned there are visible from mount namespaces created later.
func ensureDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", Dir, err)
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) { // EINVAL: not a mount point yet
		return fmt.Errorf("make %s a shared mount: %w", Dir, err)
	}
	if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mount %s on itself: %w", Dir, err)
	}
	if err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s a shared mount: %w", Dir, err)
	}
	return nil
}

// DeleteNamed unpins /run/netns/NAME (what `ip netns delete NAME` does). The
// namespace itself goes away once no process, socket or open fd refers to it. A missing
// namespace is not an error.
func DeleteNamed(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("delete network namespace %q: name must be a plain file name", name)
	}
	path := NamedPath(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network namespace file %s: %w", path, err)
	}
	return nil
}
