package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockDir holds the daemons' configuration locks.
const LockDir = "/run/faaslab-locks"

// ErrRunning: a daemon with these names (network prefix or cgroup parent) is running.
var ErrRunning = errors.New("a faaslab daemon with these names is running")

// configLock is what a running daemon holds for the names its kernel objects carry: its
// network prefix (links, namespaces, rules) and its cgroup parent. A second daemon, or a
// cleanup, with one of those names would reap the running daemon's objects from under it;
// with the lock it is refused instead. The locks are flock(2)s, which the kernel drops
// when the process dies: a crash leaves nothing stale. The files are removed on release.
type configLock struct{ files []*os.File }

// lockConfig takes cfg's locks, or fails with ErrRunning naming the holder.
func lockConfig(cfg Config) (*configLock, error) {
	if err := os.MkdirAll(LockDir, 0o755); err != nil {
		return nil, fmt.Errorf("config lock: %w", err)
	}
	l := &configLock{}
	for _, name := range []string{"net-" + cfg.Network.Prefix, "cgroup-" + strings.ReplaceAll(strings.Trim(cfg.CgroupRoot, "/"), "/", "_")} {
		f, err := lockFile(filepath.Join(LockDir, name+".lock"))
		if err != nil {
			l.release()
			return nil, err
		}
		l.files = append(l.files, f)
	}
	return l, nil
}

// lockFile creates and flocks path and writes this process's pid into it. A file its
// holder removed (release) between our open and our flock is no lock: then it tries again.
func lockFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("config lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			holder, _ := os.ReadFile(path)
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: pid %s holds %s; stop it first, or give this one its own --net-prefix and --cgroup-parent",
					ErrRunning, strings.TrimSpace(string(holder)), path)
			}
			return nil, fmt.Errorf("config lock %s: %w", path, err)
		}
		held, err1 := f.Stat()
		named, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(held, named) {
			f.Close()
			continue
		}
		// The holder's pid, for the refusal message of the next one.
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		return f, nil
	}
}

// release drops the locks. Safe on nil.
func (l *configLock) release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		os.Remove(f.Name()) // while still held: the next one locks a fresh file
		f.Close()           // closing the last descriptor drops the flock
	}
	l.files = nil
}
