package scheduler

// GrantToLeavingWaiter takes a grant for function name as dispatch hands one to a
// queued invocation (a warm sandbox, or room for a cold start) and returns leave, which
// hands it back as acquire does when that invocation's client disconnected before it
// could use the grant. Between the two a test can change the world (delete, update,
// Close), as can happen while the leaving goroutine waits for the lock.
func (s *Scheduler) GrantToLeavingWaiter(name string) (cold bool, leave func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.fns[name]
	if fs == nil {
		panic("GrantToLeavingWaiter: no function " + name)
	}
	g, ok, _ := s.tryGrant(fs, false)
	if !ok {
		panic("GrantToLeavingWaiter: no room for " + name)
	}
	s.wg.Add(1)
	return g.cold, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ungrantLocked(g)
	}
}
