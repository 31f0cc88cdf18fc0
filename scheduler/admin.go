package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CreateFunction registers a function and persists it. Errors: ErrInvalidParameter
// (*ParamError), ErrFunctionExists, ErrCodeTooLarge.
func (s *Scheduler) CreateFunction(_ context.Context, in CreateFunctionInput) (FunctionConfig, error) {
	if err := in.normalize(); err != nil {
		return FunctionConfig{}, err
	}
	if in.PackageType == PackageTypeImage && !s.cfg.ImageFunctions {
		return FunctionConfig{}, paramErr("PackageType", "PackageType Image needs a backend that runs container images: start the daemon with --backend docker")
	}
	f := &FunctionConfig{
		Name: in.Name, Runtime: in.Runtime, Handler: in.Handler, Role: in.Role,
		Description: in.Description, MemoryMB: in.MemoryMB, TimeoutSec: in.TimeoutSec,
		EphemeralStorageMB: in.EphemeralStorageMB,
		Environment:        in.Environment, PackageType: in.PackageType,
		ReservedConcurrency: in.ReservedConcurrency,
	}
	// validate's two halves: the settings before the package is unpacked, the package after.
	if err := f.validateSettings(s.cfg.Profile); err != nil {
		return FunctionConfig{}, err
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	s.mu.Lock()
	_, exists := s.fns[in.Name]
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return FunctionConfig{}, ErrClosed
	}
	if exists {
		return FunctionConfig{}, fmt.Errorf("%w: %s", ErrFunctionExists, in.Name)
	}
	f.LastModified, f.RevisionID = time.Now().UTC(), newRevision()
	if err := s.reg.storeCode(f, in.Code, f.RevisionID); err != nil {
		s.reg.remove(in.Name)
		return FunctionConfig{}, err
	}
	if err := f.validateCode(); err != nil {
		s.reg.remove(in.Name)
		return FunctionConfig{}, err
	}
	if err := s.reg.save(f); err != nil {
		s.reg.remove(in.Name)
		return FunctionConfig{}, err
	}
	s.mu.Lock()
	s.fns[f.Name] = s.newFnState(f)
	s.mu.Unlock()
	s.log.Info("function created", "function", f.Name, "runtime", f.Runtime, "memory_mb", f.MemoryMB)
	return *f.clone(), nil
}

// GetFunction returns a copy of the function's configuration.
func (s *Scheduler) GetFunction(name string) (FunctionConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.fns[name]
	if fs == nil {
		return FunctionConfig{}, fmt.Errorf("%w: %s", ErrFunctionNotFound, name)
	}
	return *fs.cfg.clone(), nil
}

// HasFunction reports whether name is registered (cheap: DryRun invocations use it).
func (s *Scheduler) HasFunction(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fns[name] != nil
}

// ListFunctions returns every function, sorted by name.
func (s *Scheduler) ListFunctions() []FunctionConfig {
	s.mu.Lock()
	out := make([]FunctionConfig, 0, len(s.fns))
	for _, fs := range s.fns {
		out = append(out, *fs.cfg.clone())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b FunctionConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// CodeLocation is a URL of the function's uploaded package ("" when it has none).
func (s *Scheduler) CodeLocation(f FunctionConfig) string { return codeLocation(&f) }

// DeleteFunction removes a function: idle sandboxes stop now, busy ones after their
// invocation, queued invocations fail with ErrFunctionNotFound.
func (s *Scheduler) DeleteFunction(_ context.Context, name string) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	s.mu.Lock()
	fs := s.fns[name]
	s.mu.Unlock()
	if fs == nil {
		return fmt.Errorf("%w: %s", ErrFunctionNotFound, name)
	}
	// Move the files aside first: running sandboxes keep their mounts of the code, and a
	// function created again under the same name gets a fresh directory.
	trash := filepath.Join(s.reg.dir, ".trash-"+newRevision())
	if err := os.Rename(s.reg.fnDir(name), trash); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fns, name)
	fs.deleted = true
	fs.trashDir = trash
	s.stopIdleLocked(fs, "function deleted")
	if fs.live == 0 {
		fs.live++ // sandboxGoneLocked counts down and removes the trash
		s.sandboxGoneLocked(fs)
	}
	s.dispatch()
	s.log.Info("function deleted", "function", name)
	return nil
}

// UpdateFunctionConfiguration applies u. New sandboxes use the new configuration; idle
// ones are stopped now and busy ones after their invocation.
func (s *Scheduler) UpdateFunctionConfiguration(_ context.Context, name string, u ConfigUpdate) (FunctionConfig, error) {
	return s.update(name, true, func(f *FunctionConfig) (*FunctionConfig, error) {
		c := u.apply(f)
		if err := c.validate(s.cfg.Profile); err != nil {
			return nil, err
		}
		return c, nil
	})
}

// UpdateFunctionCode replaces the function's package (a zip, or an image URI).
func (s *Scheduler) UpdateFunctionCode(_ context.Context, name string, code Code) (FunctionConfig, error) {
	return s.update(name, true, func(f *FunctionConfig) (*FunctionConfig, error) {
		c := f.clone()
		switch {
		case c.PackageType == PackageTypeImage && code.ImageURI == "":
			return nil, paramErr("ImageUri", "ImageUri is required to update the code of an Image function")
		case c.PackageType == PackageTypeZip && !code.hasZip():
			return nil, paramErr("ZipFile", "ZipFile is required to update the code of a Zip function")
		}
		c.RevisionID = newRevision()
		if err := s.reg.storeCode(c, code, c.RevisionID); err != nil {
			return nil, err
		}
		if err := c.validateCode(); err != nil {
			s.reg.dropCode(c.CodeDir)
			return nil, err
		}
		return c, nil
	})
}

// PutFunctionConcurrency sets (n != nil) or removes (nil) the reserved concurrency.
// Sandboxes are kept; the limit applies to the next grants.
func (s *Scheduler) PutFunctionConcurrency(name string, n *int) (FunctionConfig, error) {
	if err := validateConcurrency(n); err != nil {
		return FunctionConfig{}, err
	}
	return s.update(name, false, func(f *FunctionConfig) (*FunctionConfig, error) {
		c := f.clone()
		if n != nil {
			v := *n
			c.ReservedConcurrency = &v
		} else {
			c.ReservedConcurrency = nil
		}
		return c, nil
	})
}

// update persists change(current) and swaps it in; retire makes existing sandboxes outdated.
func (s *Scheduler) update(name string, retire bool, change func(*FunctionConfig) (*FunctionConfig, error)) (FunctionConfig, error) {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	s.mu.Lock()
	fs := s.fns[name]
	var cur *FunctionConfig
	if fs != nil {
		cur = fs.cfg
	}
	s.mu.Unlock()
	if fs == nil {
		return FunctionConfig{}, fmt.Errorf("%w: %s", ErrFunctionNotFound, name)
	}
	next, err := change(cur)
	if err != nil {
		return FunctionConfig{}, err
	}
	next.LastModified = time.Now().UTC()
	if next.RevisionID == cur.RevisionID {
		next.RevisionID = newRevision()
	}
	if err := s.reg.save(next); err != nil {
		return FunctionConfig{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fs.cfg = next
	if retire {
		fs.gen++
		s.stopIdleLocked(fs, "function updated")
	}
	s.dispatch()
	return *next.clone(), nil
}
