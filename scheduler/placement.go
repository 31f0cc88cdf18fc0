package scheduler

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// grant is the right to run one invocation: a warm sandbox, or room for a cold start
// (memory reserved, fs.starting counted).
type grant struct {
	fs     *fnState
	inst   *instance       // warm
	cfg    *FunctionConfig // cold: the config to build with
	gen    uint64
	cold   bool
	queued time.Duration
}

// waiter is a queued invocation.
type waiter struct {
	fs    *fnState
	enq   time.Time
	ready chan struct{} // receives once when done
	done  bool          // guarded by Scheduler.mu
	g     grant
	err   error
}

func (w *waiter) finish(g grant, err error) {
	w.g, w.err, w.done = g, err, true
	w.ready <- struct{}{}
}

// acquire returns a grant for function name, queueing (FIFO) while the host is full or
// the function is at its reserved concurrency. With throttle (synchronous invocations)
// a function at its reserved concurrency fails at once with a ThrottleError instead, as
// Lambda throttles; Event invocations wait, as Lambda's event queue does. A grant adds
// one to s.wg.
func (s *Scheduler) acquire(ctx context.Context, name string, throttle bool) (grant, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return grant{}, ErrClosed
	}
	fs := s.fns[name]
	if fs == nil {
		s.mu.Unlock()
		return grant{}, fmt.Errorf("%w: %s", ErrFunctionNotFound, name)
	}
	lim := fs.cfg.concurrencyLimit()
	if lim == 0 {
		s.mu.Unlock()
		return grant{}, reservedZero(name)
	}
	if throttle && lim > 0 && fs.busy+fs.starting >= lim {
		s.mu.Unlock()
		return grant{}, &ThrottleError{Reason: ReasonReservedConcurrency, Msg: "Rate Exceeded."}
	}
	if need := fs.cfg.MemoryMB; need > s.capMB {
		// Possible after a restart with a smaller profile; queueing would block the host forever.
		s.mu.Unlock()
		return grant{}, paramErr("MemorySize", "function %s needs %d MB but host profile %s has only %d MB: lower its MemorySize",
			name, need, s.cfg.Profile.Name, s.capMB)
	}
	// Fast path: nobody waits, so nobody can be overtaken.
	if len(s.queue) == 0 {
		if g, ok, _ := s.tryGrant(fs, false); ok {
			s.wg.Add(1)
			s.mu.Unlock()
			return g, nil
		}
	}
	if len(s.queue) >= s.cfg.MaxQueue {
		used, n := s.usedMB, len(s.queue)
		s.mu.Unlock()
		return grant{}, &ThrottleError{Reason: ReasonQueueFull, Msg: fmt.Sprintf(
			"Rate Exceeded. %d invocations already wait for a sandbox on this host (%d of %d MB in use; queue limit %d)",
			n, used, s.capMB, s.cfg.MaxQueue)}
	}
	w := &waiter{fs: fs, enq: time.Now(), ready: make(chan struct{}, 1)}
	s.queue = append(s.queue, w)
	s.dispatch()
	s.mu.Unlock()

	select {
	case <-w.ready:
		return w.g, w.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !w.done {
		if i := slices.Index(s.queue, w); i >= 0 {
			s.queue = slices.Delete(s.queue, i, i+1)
			s.m.queueLength.Set(float64(len(s.queue)))
		}
		return grant{}, ctx.Err()
	}
	if w.err == nil {
		s.ungrantLocked(w.g)
	}
	return grant{}, ctx.Err()
}

func reservedZero(name string) error {
	return &ThrottleError{Reason: ReasonReservedConcurrency, Msg: fmt.Sprintf(
		"Rate Exceeded. Function %s has reserved concurrency 0, so it is throttled; raise it with PutFunctionConcurrency", name)}
}

// ungrantLocked hands back a grant whose waiter left before using it. It takes the
// paths an invocation's own end takes (returnLocked, undoColdLocked), so a sandbox
// handed back is stopped, not pooled, when its function was deleted or updated or the
// scheduler closed while the grant was on its way.
func (s *Scheduler) ungrantLocked(g grant) {
	if g.cold {
		s.undoColdLocked(g.fs, g.cfg)
	} else {
		s.returnLocked(g.inst, false, "")
	}
	s.wg.Done()
}

// tryGrant grants fs a warm sandbox or room for a cold start. memBlocked forbids taking
// memory (an earlier waiter is waiting for it). blocked reports that fs waits for memory.
func (s *Scheduler) tryGrant(fs *fnState, memBlocked bool) (g grant, ok, blocked bool) {
	if lim := fs.cfg.concurrencyLimit(); lim >= 0 && fs.busy+fs.starting >= lim {
		return grant{}, false, false
	}
	if n := len(fs.idle); n > 0 {
		inst := fs.idle[n-1]
		fs.idle[n-1] = nil
		fs.idle = fs.idle[:n-1]
		inst.state = stateBusy
		fs.busy++
		fs.publish()
		return grant{fs: fs, inst: inst}, true, false
	}
	if memBlocked {
		return grant{}, false, true
	}
	need := fs.cfg.MemoryMB
	if s.usedMB+need <= s.capMB {
		s.usedMB += need
		fs.starting++
		fs.live++
		fs.publish()
		s.m.memoryUsed.Set(float64(int64(s.usedMB) << 20))
		return grant{fs: fs, cfg: fs.cfg, gen: fs.gen, cold: true}, true, false
	}
	s.makeRoom(need)
	return grant{}, false, true
}

// makeRoom evicts idle sandboxes (least recently used first) so that need MB become free,
// but only when that suffices: evicting without making enough room would only destroy
// warm sandboxes. Memory of sandboxes already stopping counts as free.
func (s *Scheduler) makeRoom(need int) {
	avail := s.capMB - (s.usedMB - s.stoppingMB)
	if avail >= need {
		return // the stops under way will make room; their destroy dispatches again
	}
	evictable := 0
	for _, fs := range s.fns {
		for _, inst := range fs.idle {
			evictable += inst.cfg.MemoryMB
		}
	}
	if avail+evictable < need {
		return
	}
	for avail < need {
		var oldest *fnState
		for _, fs := range s.fns {
			if len(fs.idle) > 0 && (oldest == nil || fs.idle[0].lastUsed.Before(oldest.idle[0].lastUsed)) {
				oldest = fs
			}
		}
		inst := oldest.idle[0]
		oldest.idle = slices.Delete(oldest.idle, 0, 1)
		oldest.publish()
		s.stopLocked(inst, "evicted to make room")
		s.m.evictions.Inc()
		avail += inst.cfg.MemoryMB
	}
}

// dispatch serves queued invocations in FIFO order. Once one waits for memory, later
// ones may still take warm sandboxes of their own function but no memory, so a large
// function is not starved by a stream of small ones. Called with mu held.
func (s *Scheduler) dispatch() {
	if len(s.queue) == 0 {
		return
	}
	now := time.Now()
	memBlocked := false
	kept := s.queue[:0]
	for _, w := range s.queue {
		switch {
		case w.fs.deleted:
			w.finish(grant{}, fmt.Errorf("%w: %s (deleted while queued)", ErrFunctionNotFound, w.fs.name))
			continue
		case w.fs.cfg.concurrencyLimit() == 0:
			w.finish(grant{}, reservedZero(w.fs.name))
			continue
		}
		g, ok, blocked := s.tryGrant(w.fs, memBlocked)
		if ok {
			g.queued = now.Sub(w.enq)
			s.m.queueWait.Observe(g.queued.Seconds())
			s.wg.Add(1)
			w.finish(g, nil)
			continue
		}
		memBlocked = memBlocked || blocked
		kept = append(kept, w)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	s.m.queueLength.Set(float64(len(kept)))
}

// release returns a sandbox after an invocation (see returnLocked).
func (s *Scheduler) release(inst *instance, discard bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.returnLocked(inst, discard, reason)
}

// returnLocked takes back a busy sandbox: to the warm pool, or stopped when discard is
// set (reason says why), its function was deleted or updated since it was built, its
// process exited, or the scheduler is closing. Every busy sandbox comes back through
// here: after its invocation and when the waiter it was granted to left. Called with mu held.
func (s *Scheduler) returnLocked(inst *instance, discard bool, reason string) {
	fs := inst.fs
	fs.busy--
	switch {
	case discard:
	case s.closed:
		reason = "shutdown"
	case fs.deleted:
		reason = "function deleted"
	case inst.gen != fs.gen:
		reason = "function updated"
	case inst.ctx.Err() != nil:
		reason = "process exited"
	default:
		inst.state = stateIdle
		inst.lastUsed = time.Now()
		fs.idle = append(fs.idle, inst)
		fs.publish()
		s.dispatch()
		return
	}
	s.stopLocked(inst, reason)
	fs.publish()
	s.dispatch()
}

// undoColdLocked gives back what a cold grant reserved (its memory and the sandbox it
// counted) when no sandbox came of it: the cold start failed or the waiter left. A
// deleted function's files go with its last sandbox. Called with mu held.
func (s *Scheduler) undoColdLocked(fs *fnState, cfg *FunctionConfig) {
	fs.starting--
	s.usedMB -= cfg.MemoryMB
	s.sandboxGoneLocked(fs)
	fs.publish()
	s.m.memoryUsed.Set(float64(int64(s.usedMB) << 20))
	s.dispatch()
}
