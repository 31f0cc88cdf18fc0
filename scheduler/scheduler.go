package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaslab/faaslab/sandbox"
)

// Scheduler places invocations on sandboxes of one host. Create it with New, stop it
// with Close. All methods are safe for concurrent use.
type Scheduler struct {
	cfg     Config
	deps    Deps
	reg     *registry
	m       *metrics
	records *recordWriter
	log     *slog.Logger
	capMB   int

	ctx    context.Context // ends at Close (cause ErrClosed); parent of every sandbox's context
	cancel context.CancelCauseFunc

	// adminMu serializes function create/update/delete so that registry I/O happens
	// without holding mu, which the invoke path needs.
	adminMu sync.Mutex

	mu         sync.Mutex
	fns        map[string]*fnState
	queue      []*waiter // FIFO of invocations waiting for room
	usedMB     int       // Σ MemorySize of live sandboxes (starting, idle, busy, stopping)
	stoppingMB int       // part of usedMB whose sandboxes are being stopped
	live       map[*instance]struct{}
	asyncN     int
	closed     bool

	seq atomic.Uint64  // sandbox ID counter
	wg  sync.WaitGroup // in-flight invocations, sandbox teardowns, async events, reaper
}

// fnState is one function's pool. Guarded by Scheduler.mu.
type fnState struct {
	name     string
	arn      string
	cfg      *FunctionConfig // current; replaced (never mutated) on update
	gen      uint64          // bumped when sandboxes must be rebuilt (config or code changed)
	idle     []*instance     // stack: most recently used last
	busy     int
	starting int
	live     int    // sandboxes not yet torn down (incl. starting)
	deleted  bool   // DeleteFunction ran; trashDir is removed when live reaches 0
	trashDir string //
	fm       fnMetrics
}

// instance is one sandbox of a function.
type instance struct {
	id     string
	fs     *fnState
	gen    uint64
	cfg    *FunctionConfig // the config it was built with
	sb     sandbox.Sandbox
	ep     RuntimeEndpoint
	log    *logStream
	ctx    context.Context // ends when the sandbox exits, is stopped, or at Close
	cancel context.CancelCauseFunc

	attached   bool
	registered bool

	// Guarded by Scheduler.mu.
	state    instState
	lastUsed time.Time

	// Used only by the goroutine holding the sandbox busy.
	oomKills uint64
	buf      []byte
}

type instState uint8

const (
	stateStarting instState = iota
	stateIdle
	stateBusy
	stateStopping
	stateGone
)

// errSandboxExited is the cause of an instance's context when its process exited by itself.
var errSandboxExited = errors.New("sandbox process exited")

// errStopped is the cause when the scheduler stopped the sandbox (timeout, eviction, ...).
var errStopped = errors.New("sandbox stopped by the scheduler")

// New loads the functions persisted under cfg.StateDir and starts the keep-alive reaper.
// reg receives the scheduler's metrics (nil = a private registry).
func New(cfg Config, deps Deps, reg prometheus.Registerer) (*Scheduler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Backend == nil || deps.Network == nil || deps.Runtime == nil {
		return nil, errors.New("scheduler: Deps needs Backend, Network and Runtime")
	}
	os.RemoveAll(filepath.Join(cfg.StateDir, uploadsDir)) // uploads a crash left behind
	r, err := newRegistry(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{
		cfg:     cfg,
		deps:    deps,
		reg:     r,
		records: &recordWriter{w: cfg.Records},
		log:     cfg.Logger,
		capMB:   int(cfg.Profile.MemoryBytes >> 20),
		fns:     map[string]*fnState{},
		live:    map[*instance]struct{}{},
	}
	if s.m, err = newMetrics(reg, s); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	fns, err := r.load()
	if err != nil {
		return nil, err
	}
	for _, f := range fns {
		s.fns[f.Name] = s.newFnState(f)
	}
	s.m.memoryProfile.Set(float64(cfg.Profile.MemoryBytes))
	s.wg.Add(1)
	go s.reaper()
	s.log.Info("scheduler ready", "functions", len(fns), "profile", cfg.Profile.Name,
		"memory_mb", s.capMB, "keep_alive", cfg.KeepAlive)
	return s, nil
}

func (s *Scheduler) newFnState(f *FunctionConfig) *fnState {
	return &fnState{name: f.Name, arn: s.FunctionARN(f.Name), cfg: f, fm: s.m.forFunction(f.Name)}
}

// FunctionARN is the function's ARN in this host's region and account.
func (s *Scheduler) FunctionARN(name string) string {
	return "arn:aws:lambda:" + s.cfg.Region + ":" + s.cfg.AccountID + ":function:" + name
}

// Region and AccountID are what ARNs carry.
func (s *Scheduler) Region() string    { return s.cfg.Region }
func (s *Scheduler) AccountID() string { return s.cfg.AccountID }

// Config returns the effective configuration (defaults filled).
func (s *Scheduler) Config() Config { return s.cfg }

// publish sets the function's sandbox gauges from its counts. Called with mu held.
func (fs *fnState) publish() {
	fs.fm.idle.Set(float64(len(fs.idle)))
	fs.fm.busy.Set(float64(fs.busy))
	fs.fm.starting.Set(float64(fs.starting))
}

// Sandbox IDs are PREFIX-NAME-COUNT. Config.withDefaults keeps the prefix short enough
// for a one-character NAME and the largest COUNT, so newSandboxID only ever shortens NAME.
const (
	// longestSeqSuffix is the longest "-COUNT": the largest uint64.
	longestSeqSuffix    = "-18446744073709551615"
	maxSandboxPrefixLen = sandbox.MaxIDLen - len("-x") - len(longestSeqSuffix)
)

// newSandboxID makes PREFIX-NAME-COUNT within sandbox.MaxIDLen characters of [a-z0-9-],
// shortening NAME as needed.
func (s *Scheduler) newSandboxID(function string) string {
	suffix := fmt.Sprintf("-%d", s.seq.Add(1))
	var b strings.Builder
	for _, r := range strings.ToLower(function) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	room := sandbox.MaxIDLen - len(s.cfg.SandboxPrefix) - 1 - len(suffix)
	if len(name) > room {
		name = name[:max(room, 0)]
	}
	name = strings.Trim(name, "-")
	if name == "" {
		return s.cfg.SandboxPrefix + suffix
	}
	return s.cfg.SandboxPrefix + "-" + name + suffix
}

// reaper stops sandboxes idle for longer than KeepAlive.
func (s *Scheduler) reaper() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.reapIdle(now)
		}
	}
}

func (s *Scheduler) reapIdle(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fs := range s.fns {
		n := 0
		for n < len(fs.idle) && now.Sub(fs.idle[n].lastUsed) >= s.cfg.KeepAlive {
			s.stopLocked(fs.idle[n], "keep-alive expired")
			n++
		}
		if n > 0 {
			fs.idle = slices.Delete(fs.idle, 0, n)
			fs.publish()
		}
	}
}

// stopIdleLocked stops every idle sandbox of fs (reason is logged). The caller holds mu.
func (s *Scheduler) stopIdleLocked(fs *fnState, reason string) {
	for _, inst := range fs.idle {
		s.stopLocked(inst, reason)
	}
	fs.idle = nil
	fs.publish()
}

// stopLocked marks inst stopping and tears it down in the background. The caller has
// removed it from its idle list (if it was idle) and holds mu.
func (s *Scheduler) stopLocked(inst *instance, reason string) {
	if inst.state == stateStopping || inst.state == stateGone {
		return
	}
	inst.state = stateStopping
	s.stoppingMB += inst.cfg.MemoryMB
	s.wg.Add(1)
	go s.destroy(inst, reason)
}

// destroy tears inst down and gives its memory back.
func (s *Scheduler) destroy(inst *instance, reason string) {
	defer s.wg.Done()
	s.log.Debug("stopping sandbox", "sandbox", inst.id, "function", inst.cfg.Name, "reason", reason)
	s.m.resources.retire(inst) // its last CPU counters, before the cgroup goes
	s.teardown(inst)
	s.mu.Lock()
	defer s.mu.Unlock()
	inst.state = stateGone
	s.usedMB -= inst.cfg.MemoryMB
	s.stoppingMB -= inst.cfg.MemoryMB
	delete(s.live, inst)
	s.m.resources.forget(inst)
	s.sandboxGoneLocked(inst.fs)
	s.m.memoryUsed.Set(float64(int64(s.usedMB) << 20))
	s.dispatch()
}

// sandboxGoneLocked counts a sandbox of fs gone. A deleted function's last sandbox takes
// the function's files and its series with it.
func (s *Scheduler) sandboxGoneLocked(fs *fnState) {
	fs.live--
	if !fs.deleted || fs.live != 0 {
		return
	}
	// The function label must not grow with every function ever made (unless one of the
	// same name was created since: it owns the series now).
	if s.fns[fs.name] == nil {
		s.m.forgetFunction(fs.name)
		if f, ok := s.deps.Network.(FunctionForgetter); ok {
			f.ForgetFunction(fs.name)
		}
	}
	if dir := fs.trashDir; dir != "" {
		fs.trashDir = ""
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			os.RemoveAll(dir)
		}()
	}
}

// teardownFailed undoes a cold start that failed: the sandbox never joined live, but the
// CPU time it used (an init can burn seconds) still counts for its function.
func (s *Scheduler) teardownFailed(inst *instance) {
	s.m.resources.retire(inst)
	s.teardown(inst)
	s.m.resources.forget(inst)
}

// teardown undoes whatever part of a cold start happened. Errors are logged: the
// sandbox is gone for the scheduler either way, and Reap at the next start catches leftovers.
func (s *Scheduler) teardown(inst *instance) {
	inst.cancel(errStopped)
	ctx, cancel := context.WithTimeout(context.Background(), sandbox.StopTimeout)
	defer cancel()
	if inst.registered {
		s.deps.Runtime.Unregister(inst.id)
	}
	if inst.sb != nil {
		if err := inst.sb.Stop(ctx); err != nil {
			s.log.Warn("stop sandbox failed", "sandbox", inst.id, "err", err)
		}
	}
	if inst.attached {
		if err := s.deps.Network.Detach(ctx, inst.id); err != nil {
			s.log.Warn("detach sandbox network failed", "sandbox", inst.id, "err", err)
		}
	}
	inst.log.Close()
}

// watch notices a sandbox whose process exits by itself.
func (s *Scheduler) watch(inst *instance) {
	select {
	case <-inst.sb.Done():
		inst.cancel(errSandboxExited)
		s.mu.Lock()
		if inst.state == stateIdle {
			fs := inst.fs
			if i := slices.Index(fs.idle, inst); i >= 0 {
				fs.idle = slices.Delete(fs.idle, i, i+1)
			}
			s.stopLocked(inst, "process exited while idle")
			fs.publish()
		}
		s.mu.Unlock()
	case <-inst.ctx.Done():
	}
}

// Close fails queued invocations, aborts running ones and stops every sandbox. It waits
// for the teardown until ctx ends.
func (s *Scheduler) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, w := range s.queue {
			w.finish(grant{}, ErrClosed)
		}
		s.queue = nil
		s.m.queueLength.Set(0)
		for _, fs := range s.fns {
			s.stopIdleLocked(fs, "shutdown")
		}
		for inst := range s.live {
			inst.cancel(ErrClosed) // busy: the invoking goroutine stops it on release
		}
	}
	s.mu.Unlock()
	s.cancel(ErrClosed)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scheduler shutdown: sandboxes still stopping: %w", ctx.Err())
	}
}

// removeTrash deletes directories of functions deleted before a crash.
func removeTrash(functionsDir string) {
	matches, _ := filepath.Glob(filepath.Join(functionsDir, ".trash-*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

func newRevision() string { return uuid.NewString() }
