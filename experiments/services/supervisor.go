package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// CommandFunc builds a fresh, unstarted command for each (re)start of a service.
type CommandFunc func() *exec.Cmd

// Backoff bounds of restarts after a failure; a process that ran longer than
// stableAfter starts the next round at minBackoff again.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	stableAfter = 10 * time.Second
	// stopGrace is how long a service has to exit after SIGTERM before SIGKILL.
	stopGrace = 3 * time.Second
)

// ProcessStatus is what the host API reports of one supervised process.
type ProcessStatus struct {
	Running bool `json:"running"`
	PID     int  `json:"pid,omitempty"`
	// Starts counts every start; Failures the exits that were not asked for and not a
	// clean exit of a one-shot server (iperf3 -s -1 exits 0 after each test).
	Starts    int64     `json:"starts"`
	Failures  int64     `json:"failures"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
}

// process supervises one child: it restarts it whenever it exits until Stop, with
// exponential backoff after failures. The child gets SIGKILL if the daemon dies
// (Pdeathsig), so a crashed daemon never leaves a store or an iperf3 server behind.
type process struct {
	name      string // metric label: bounded set (s3, iperf3)
	cmd       CommandFunc
	cleanExit bool // exit status 0 is expected (one-shot servers): restart at once, no failure
	log       *slog.Logger
	metrics   *Metrics

	mu     sync.Mutex
	status ProcessStatus
	cancel context.CancelFunc
	done   chan struct{}
	// onStart runs after each successful start (readiness probes, logging).
	onStart func(pid int)
}

func newProcess(name string, cmd CommandFunc, cleanExit bool, log *slog.Logger, m *Metrics) *process {
	return &process{name: name, cmd: cmd, cleanExit: cleanExit, log: log, metrics: m}
}

// start launches the supervision loop; it returns once the first start was attempted,
// with that attempt's error (the loop keeps retrying regardless).
func (p *process) start() error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	first := make(chan error, 1)
	go p.loop(ctx, first)
	return <-first
}

// loop runs on one locked OS thread: Pdeathsig fires when the thread that forked the
// child exits, so the thread must live as long as the supervision does.
func (p *process) loop(ctx context.Context, first chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(p.done)
	backoff := minBackoff
	for ctx.Err() == nil {
		began := time.Now()
		err := p.runOnce(ctx, first)
		first = nil
		if ctx.Err() != nil {
			return
		}
		if err == nil && p.cleanExit {
			backoff = minBackoff
			continue
		}
		p.failed(err)
		if time.Since(began) > stableAfter {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// runOnce starts the child and waits for it; the first start's error goes to first.
func (p *process) runOnce(ctx context.Context, first chan<- error) error {
	cmd := p.cmd()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	err := cmd.Start()
	if first != nil {
		first <- err
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.metrics.starts.WithLabelValues(p.name).Inc()
	// A started service's failures read 0 until one happens, not "no data" (a rate of it,
	// an alert on it, the dashboard's panel all need the series).
	p.metrics.failures.WithLabelValues(p.name)
	p.setRunning(cmd.Process.Pid)
	if p.onStart != nil {
		p.onStart(cmd.Process.Pid)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-waited:
		case <-time.After(stopGrace):
			cmd.Process.Kill()
			err = <-waited
		}
	}
	p.setStopped()
	return err
}

func (p *process) setRunning(pid int) {
	p.mu.Lock()
	p.status.Running, p.status.PID, p.status.Since = true, pid, time.Now()
	p.status.Starts++
	p.mu.Unlock()
	p.metrics.up.WithLabelValues(p.name).Inc()
}

func (p *process) setStopped() {
	p.mu.Lock()
	p.status.Running, p.status.PID = false, 0
	p.mu.Unlock()
	p.metrics.up.WithLabelValues(p.name).Dec()
}

func (p *process) failed(err error) {
	if err == nil {
		err = errors.New("exited with status 0")
	}
	p.mu.Lock()
	p.status.Failures++
	p.status.LastError = err.Error()
	p.mu.Unlock()
	p.metrics.failures.WithLabelValues(p.name).Inc()
	p.log.Warn("service exited unexpectedly; restarting", "err", err)
}

// Status is a snapshot.
func (p *process) Status() ProcessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// stop ends supervision: SIGTERM, then SIGKILL after stopGrace; it waits for the exit.
func (p *process) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
}
