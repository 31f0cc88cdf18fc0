package docker

import (
	"errors"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faaslab/faaslab/sandbox"
)

// pidHandle is a pidfd on the container's init: signals reach exactly that process, and
// the fd turns readable the moment it exits — before the engine learns of it and removes
// the cgroup, which is when captureAtExit reads the final counters (memory peak, OOM kills).
type pidHandle struct {
	mu     sync.Mutex
	file   *os.File // non-blocking, in the runtime's poller
	fd     int
	closed bool
}

var errNoPidfd = errors.New("no pidfd")

// openPid returns nil when the kernel has no pidfd_open (< 5.3); callers fall back to the
// engine.
func openPid(pid int) *pidHandle {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil
	}
	return &pidHandle{file: os.NewFile(uintptr(fd), "pidfd"), fd: fd}
}

func (h *pidHandle) signal(sig unix.Signal) error {
	if h == nil {
		return errNoPidfd
	}
	h.mu.Lock() // close must not free the fd number under us
	defer h.mu.Unlock()
	if h.closed {
		return errNoPidfd
	}
	return unix.PidfdSendSignal(h.fd, sig, nil, 0)
}

// waitExit blocks until the process has exited (true) or the handle is closed (false).
func (h *pidHandle) waitExit() bool {
	rc, err := h.file.SyscallConn()
	if err != nil {
		return false
	}
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		exited = err == nil && n > 0
		return exited || (err != nil && err != unix.EINTR)
	})
	return err == nil && exited
}

func (h *pidHandle) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		h.file.Close()
	}
}

// captureAtExit caches the cgroup's counters as the init process exits.
func (s *Sandbox) captureAtExit() {
	defer close(s.captured)
	if s.proc == nil || !s.proc.waitExit() {
		return
	}
	if st, err := sandbox.ReadStats(s.cgroupPath); err == nil {
		s.recordStats(st)
	}
}

// awaitCapture gives captureAtExit a moment to finish (the engine's exit notice normally
// comes after the pidfd's).
func (s *Sandbox) awaitCapture() {
	if s.proc == nil {
		return
	}
	select {
	case <-s.captured:
	case <-time.After(time.Second):
	}
}

func (s *Sandbox) closePid() { s.proc.close() }
