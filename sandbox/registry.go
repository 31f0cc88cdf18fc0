package sandbox

import (
	"context"
	"fmt"
	"sync"
)

// Registry is a backend's book of its sandboxes by ID: the live ones, and the ones being
// created. Reap asks it which IDs are in use (live or being created), so that a
// concurrent Create's fresh cgroup or /tmp is never taken for a crash's leftover; Close
// takes every live sandbox from it and refuses later creations, so that none is left
// running. Safe for concurrent use; the zero value is ready.
type Registry[S Stopper] struct {
	mu      sync.Mutex
	live    map[string]S
	pending map[string]bool
	closed  bool
}

// Stopper is what a Registry holds: a backend's sandbox.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Create makes the sandbox id with create and records it: refused when id is live or
// being created, or once Close has run (ErrStopped). While create runs, id counts as in
// use. A sandbox whose creation ends after Close is stopped here (Close did not see it).
func (r *Registry[S]) Create(ctx context.Context, id string, create func() (S, error)) (S, error) {
	var none S
	if err := r.reserve(id); err != nil {
		return none, err
	}
	s, err := create()
	if err != nil {
		r.abandon(id)
		return none, err
	}
	if err := r.commit(id, s); err != nil {
		_ = s.Stop(context.WithoutCancel(ctx))
		return none, err
	}
	return s, nil
}

// reserve marks id as being created. It fails when id is live or being created, or when
// the registry is closed (ErrStopped).
func (r *Registry[S]) reserve(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("create %s: backend closed: %w", id, ErrStopped)
	}
	if _, dup := r.live[id]; dup || r.pending[id] {
		return fmt.Errorf("create %s: sandbox exists already", id)
	}
	if r.pending == nil {
		r.pending = map[string]bool{}
	}
	r.pending[id] = true
	return nil
}

// commit turns the reserved id into the live sandbox s. When the registry was closed
// meanwhile it records nothing and returns ErrStopped: Close did not see s, so the caller
// must stop it.
func (r *Registry[S]) commit(id string, s S) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, id)
	if r.closed {
		return fmt.Errorf("create %s: backend closed meanwhile: %w", id, ErrStopped)
	}
	if r.live == nil {
		r.live = map[string]S{}
	}
	r.live[id] = s
	return nil
}

// abandon drops the reservation of an id whose creation failed.
func (r *Registry[S]) abandon(id string) {
	r.mu.Lock()
	delete(r.pending, id)
	r.mu.Unlock()
}

// Remove forgets a stopped sandbox.
func (r *Registry[S]) Remove(id string) {
	r.mu.Lock()
	delete(r.live, id)
	r.mu.Unlock()
}

// InUse reports whether id is live or being created.
func (r *Registry[S]) InUse(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, live := r.live[id]
	return live || r.pending[id]
}

// Close refuses every later Create (and one still running) and returns the live sandboxes, for the
// caller to stop.
func (r *Registry[S]) Close() []S {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	all := make([]S, 0, len(r.live))
	for _, s := range r.live {
		all = append(all, s)
	}
	return all
}
