package sandbox

import (
	"context"
	"errors"
	"testing"
)

// fakeSandbox counts its stops.
type fakeSandbox struct{ stops int }

func (f *fakeSandbox) Stop(context.Context) error { f.stops++; return nil }

func TestRegistryLifecycle(t *testing.T) {
	var r Registry[*fakeSandbox]
	ctx := t.Context()
	a := &fakeSandbox{}
	_, err := r.Create(ctx, "a", func() (*fakeSandbox, error) {
		if !r.InUse("a") {
			t.Error("id not in use while being created: Reap would take its fresh cgroup for a leftover")
		}
		if _, err := r.Create(ctx, "a", func() (*fakeSandbox, error) { return &fakeSandbox{}, nil }); err == nil {
			t.Error("a second Create of an id being created succeeded")
		}
		return a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(ctx, "a", func() (*fakeSandbox, error) { return &fakeSandbox{}, nil }); err == nil {
		t.Error("Create of a live id succeeded")
	}
	boom := errors.New("boom")
	if _, err := r.Create(ctx, "b", func() (*fakeSandbox, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("failed creation: %v, want its error", err)
	}
	if r.InUse("b") {
		t.Error("an id whose creation failed is still in use")
	}
	r.Remove("a")
	if r.InUse("a") {
		t.Error("removed id still in use")
	}
	if a.stops != 0 {
		t.Errorf("the registry stopped a live sandbox %d times", a.stops)
	}
}

// TestRegistryCloseDuringCreate: Close returns the live sandboxes; one whose creation
// ends after Close is stopped by Create (Close could not see it), and later Creates are
// refused.
func TestRegistryCloseDuringCreate(t *testing.T) {
	var r Registry[*fakeSandbox]
	ctx := t.Context()
	live, late := &fakeSandbox{}, &fakeSandbox{}
	if _, err := r.Create(ctx, "live", func() (*fakeSandbox, error) { return live, nil }); err != nil {
		t.Fatal(err)
	}
	var closed []*fakeSandbox
	_, err := r.Create(ctx, "late", func() (*fakeSandbox, error) {
		closed = r.Close()
		return late, nil
	})
	if !errors.Is(err, ErrStopped) {
		t.Errorf("creation that ended after Close: %v, want ErrStopped", err)
	}
	if late.stops != 1 {
		t.Errorf("the late sandbox was stopped %d times, want 1", late.stops)
	}
	if len(closed) != 1 || closed[0] != live {
		t.Errorf("Close returned %v, want the live sandbox", closed)
	}
	if r.InUse("late") {
		t.Error("the refused id is still in use")
	}
	if _, err := r.Create(ctx, "new", func() (*fakeSandbox, error) { return &fakeSandbox{}, nil }); !errors.Is(err, ErrStopped) {
		t.Errorf("Create after Close: %v, want ErrStopped", err)
	}
}
