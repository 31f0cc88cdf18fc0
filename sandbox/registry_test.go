package sandbox

import (
	"errors"
	"slices"
	"testing"
)

func TestRegistryLifecycle(t *testing.T) {
	var r Registry[string]
	if r.InUse("a") {
		t.Fatal("empty registry: a in use")
	}
	if err := r.Reserve("a"); err != nil {
		t.Fatal(err)
	}
	if !r.InUse("a") {
		t.Error("reserved id not in use: Reap would take its fresh cgroup for a leftover")
	}
	if err := r.Reserve("a"); err == nil {
		t.Error("second Reserve of a pending id accepted")
	}
	if err := r.Commit("a", "sandbox-a"); err != nil {
		t.Fatal(err)
	}
	if err := r.Reserve("a"); err == nil {
		t.Error("Reserve of a live id accepted")
	}
	if err := r.Reserve("b"); err != nil {
		t.Fatal(err)
	}
	r.Abandon("b")
	if r.InUse("b") {
		t.Error("abandoned id still in use")
	}
	r.Remove("a")
	if r.InUse("a") {
		t.Error("removed id still in use")
	}
}

// TestRegistryCloseDuringCreate: a sandbox whose creation finishes after Close is refused,
// so that its creator stops it (Close could not see it).
func TestRegistryCloseDuringCreate(t *testing.T) {
	var r Registry[string]
	for _, id := range []string{"live", "late"} {
		if err := r.Reserve(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Commit("live", "sandbox-live"); err != nil {
		t.Fatal(err)
	}
	if got := r.Close(); !slices.Equal(got, []string{"sandbox-live"}) {
		t.Errorf("Close returned %v, want [sandbox-live]", got)
	}
	if err := r.Commit("late", "sandbox-late"); !errors.Is(err, ErrStopped) {
		t.Errorf("Commit after Close: %v, want ErrStopped", err)
	}
	if r.InUse("late") {
		t.Error("refused commit left its id in use")
	}
	if err := r.Reserve("new"); !errors.Is(err, ErrStopped) {
		t.Errorf("Reserve after Close: %v, want ErrStopped", err)
	}
}
