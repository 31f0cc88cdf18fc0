package sandbox

import (
	"fmt"
	"sync"
)

// Registry is a backend's book of its sandboxes by ID: the live ones, and the ones being
// created. Reap asks it which IDs are in use (live or being created), so that a
// concurrent Create's fresh cgroup or /tmp is never taken for a crash's leftover; Close
// takes every live sandbox from it and refuses later creations, so that none is left
// running. Safe for concurrent use; the zero value is ready.
type Registry[S any] struct {
	mu      sync.Mutex
	live    map[string]S
	pending map[string]bool
	closed  bool
}

// Reserve marks id as being created. It fails when id is live or being created, or when
// the registry is closed (ErrStopped).
func (r *Registry[S]) Reserve(id string) error {
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

// Commit turns the reserved id into the live sandbox s. When the registry was closed
// meanwhile it records nothing and returns ErrStopped: Close did not see s, so the caller
// must stop it.
func (r *Registry[S]) Commit(id string, s S) error {
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

// Abandon drops the reservation of an id whose creation failed.
func (r *Registry[S]) Abandon(id string) {
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

// Close refuses every later Reserve and Commit and returns the live sandboxes, for the
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
