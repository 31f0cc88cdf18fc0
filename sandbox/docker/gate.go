package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox"
)

// Releasing the gate. The gate (faaslab-runtime gate) execs the command when it receives
// SIGUSR1, but a SIGUSR1 that arrives before it called signal.Notify is lost: before the Go
// runtime runs, the kernel discards it (the gate is its pid namespace's init and has no
// handler yet), and between runtime start and Notify the runtime drops it. Start therefore
// watches the gate through /proc and signals only once it can listen:
//
//   - /proc/PID/cmdline tells runc's init (not yet the gate), the gate, and the released
//     command (anything else, once the gate has been seen);
//   - /proc/PID/comm == runtime.GateReadyComm says the gate has called Notify (the gate renames
//     itself once it listens, which makes the release race-free: one signal);
//   - otherwise SigCgt's SIGUSR1 bit says the Go runtime is up, and Start resends every
//     gateResendInterval until the command line changes. A spare SIGUSR1 that reaches the
//     command is harmless unless the command itself handles SIGUSR1: as its namespace's
//     init it never gets the default (fatal) action.
const (
	gatePollInterval   = 200 * time.Microsecond
	gateResendInterval = 20 * time.Millisecond
	gateTimeout        = 10 * time.Second
	sigusr1Bit         = 1 << (10 - 1) // SIGUSR1 = 10; SigCgt bit n-1 is signal n
)

// gateState is what /proc says about the container's init.
type gateState int

const (
	gateNotYet   gateState = iota // runc init, or the Go runtime not started
	gateCaught                    // Go runtime up: SIGUSR1 may or may not be listened for
	gateReady                     // the gate said it listens
	gateReleased                  // the command runs (or ran)
	gateGone                      // the process has exited
)

// cmdline is argv as /proc/PID/cmdline shows it.
func cmdline(argv []string) []byte {
	return []byte(strings.Join(argv, "\x00") + "\x00")
}

// gateProbe reads the gate's state; seen records that the gate's command line was seen,
// so that a later different one means released (and not runc's init).
type gateProbe struct {
	pid  int
	gate []byte
	seen bool
}

func (g *gateProbe) state() gateState {
	cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", g.pid))
	switch {
	case err != nil:
		return gateGone
	case len(cl) == 0:
		// Empty: a zombie, or a process inside execve (the new image's arguments are not
		// set up yet) — runc's init becoming the gate, or the gate becoming the command.
		if zombie(g.pid) {
			return gateGone
		}
		if g.seen {
			return gateReleased
		}
		return gateNotYet
	case !bytes.Equal(cl, g.gate):
		if g.seen {
			return gateReleased
		}
		return gateNotYet
	}
	g.seen = true
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", g.pid)); err == nil &&
		strings.TrimSpace(string(comm)) == runtime.GateReadyComm {
		return gateReady
	}
	if sigCaught(g.pid, sigusr1Bit) {
		return gateCaught
	}
	return gateNotYet
}

// zombie reports whether pid has exited (or is gone).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')' (comm may contain one).
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// sigCaught reports whether pid has a handler for the signal of bit in SigCgt.
func sigCaught(pid int, bit uint64) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&bit != 0
		}
	}
	return false
}

// Start releases the gate: the command runs in place of the gate (same pid and netns).
// It returns once the command has been exec'd (or has already exited).
func (s *Sandbox) Start(ctx context.Context) error {
	select {
	case <-s.done:
		return fmt.Errorf("start sandbox %s: %w", s.id, sandbox.ErrStopped)
	default:
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, gateTimeout)
	defer cancel()
	if err := s.release(ctx); err != nil {
		return fmt.Errorf("start sandbox %s: %w", s.id, err)
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	return nil
}

func (s *Sandbox) release(ctx context.Context) error {
	probe := gateProbe{pid: s.pid, gate: s.gateCmdline}
	var lastSent time.Time
	sentReady := false
	for {
		st := probe.state()
		switch {
		case st == gateReleased, st == gateGone && !lastSent.IsZero():
			// Gone after a signal: the command ran and ended; Done and ExitError say how.
			return nil
		case st == gateGone:
			return fmt.Errorf("the gate exited before it was released: %w", sandbox.ErrStopped)
		case st == gateReady && !sentReady, st == gateCaught && time.Since(lastSent) >= gateResendInterval:
			if err := s.signalGate(ctx); err != nil {
				return err
			}
			lastSent, sentReady = time.Now(), st == gateReady
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gate not released within %v (is %s a faaslab-runtime gate?): %w",
				gateTimeout, s.b.cfg.GatePath, ctx.Err())
		case <-time.After(gatePollInterval):
		}
	}
}

// gateBootTimeout bounds how long Create waits for the gate's runtime to come up.
const gateBootTimeout = 5 * time.Second

// gateCaughtGrace is how long awaitGate waits for the ready name once the Go runtime is
// up, for gates (in older images) that do not announce readiness.
const gateCaughtGrace = 50 * time.Millisecond

// awaitGate waits until the gate listens for the release signal (its ready name; after
// gateCaughtGrace a started Go runtime will do), so that Start's first signal is taken.
func (s *Sandbox) awaitGate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, gateBootTimeout)
	defer cancel()
	probe := gateProbe{pid: s.pid, gate: s.gateCmdline}
	var caughtAt time.Time
	for {
		switch probe.state() {
		case gateReady:
			return nil
		case gateCaught:
			if caughtAt.IsZero() {
				caughtAt = time.Now()
			} else if time.Since(caughtAt) >= gateCaughtGrace {
				return nil
			}
		case gateGone, gateReleased:
			return fmt.Errorf("the gate exited before it was released (is %s a faaslab-runtime gate?): %w",
				s.b.cfg.GatePath, sandbox.ErrStopped)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gate %s not up within %v: %w", s.b.cfg.GatePath, gateBootTimeout, ctx.Err())
		case <-time.After(gatePollInterval):
		}
	}
}

// signalGate sends SIGUSR1 to the gate through its pidfd (the engine's kill API costs
// 40–60 ms on Debian's 20.10 engine; the pidfd is exact even if the pid were reused),
// falling back to the engine where pidfds are missing.
func (s *Sandbox) signalGate(ctx context.Context) error {
	err := s.proc.signal(unix.SIGUSR1)
	switch {
	case err == nil, errors.Is(err, unix.ESRCH): // ESRCH: gone, the next probe sees it
		return nil
	case !errors.Is(err, errNoPidfd):
		s.b.cfg.Logger.Debug("pidfd signal failed; using the engine", "sandbox", s.id, "err", err)
	}
	if err := s.b.cli.ContainerKill(ctx, s.containerID, "SIGUSR1"); err != nil {
		return fmt.Errorf("signal gate: %w", err)
	}
	return nil
}
