// Package native runs sandboxes as plain processes in fresh mount, pid, uts, ipc and net
// namespaces under a cgroup, with no container engine: the default backend.
//
// The sandbox's init is a binary started with argv[0] == nsinit.ArgV0 that calls
// nsinit.MaybeRun before anything else: by default the static faaslab-runtime bootstrap
// (Config.InitBinary), which starts in a millisecond, or this very binary
// (/proc/self/exe) when its main (or TestMain) calls nsinit.MaybeRun first, as the faaslab
// CLI and this package's tests do. Importing this package runs nothing by itself.
package native

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/native/nsinit"
)

// Defaults, in one place.
const (
	DefaultCgroupParent = "/faaslab"
	// DefaultTmpDir holds the /tmp images of the sandboxes, one subdirectory per cgroup
	// parent (so per daemon). It must be on disk: an image in memory would be memory.
	DefaultTmpDir = sandbox.DefaultTmpDir
	// rootDir is the empty host directory each sandbox mounts its root on, inside its
	// own mount namespace.
	rootDir = "/run/faaslab-sandbox-root"
)

// Config configures a Backend. Zero values take the defaults.
type Config struct {
	// CgroupParent (DefaultCgroupParent) is capped at Host.
	sandbox.BackendConfig
	// Host are the parent cgroup's limits (sandbox.Profile.HostResources()); zero fields
	// leave it unlimited.
	Host sandbox.Resources
	// InitBinary is started as the sandbox init ("" = /proc/self/exe). It must call
	// nsinit.MaybeRun first; the faaslab-runtime bootstrap does.
	InitBinary string
	// HostNetwork keeps sandboxes in the host network namespace (no CLONE_NEWNET): network
	// mode "shared", where cgroup v1 net_prio classifies their traffic. Everything else
	// (mount, pid, uts, ipc namespaces, cgroup, privileges) is as without it.
	HostNetwork bool
}

func (c Config) withDefaults() Config {
	c.BackendConfig = c.BackendConfig.WithDefaults(DefaultCgroupParent)
	c.InitBinary = cmp.Or(c.InitBinary, "/proc/self/exe")
	return c
}

// Backend creates native sandboxes. It satisfies sandbox.Backend.
type Backend struct {
	cfg    Config
	parent *sandbox.Cgroup
	uids   *sandbox.UIDPool
	tmp    *sandbox.TmpImages // nil: /tmp is a tmpfs
	reg    sandbox.Registry[*Sandbox]
}

var _ sandbox.Backend = (*Backend)(nil)

// New creates the parent cgroup, capped at cfg.Host.
func New(cfg Config) (*Backend, error) {
	cfg = cfg.withDefaults()
	uids, err := sandbox.NewUIDPool(cfg.UIDBase, cfg.UIDCount)
	if err != nil {
		return nil, fmt.Errorf("native backend: %w", err)
	}
	if !strings.HasPrefix(strings.TrimPrefix(cfg.CgroupParent, "/"), sandbox.NamePrefix) {
		return nil, fmt.Errorf("native backend: cgroup parent %q must start with /%s", cfg.CgroupParent, sandbox.NamePrefix)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("native backend needs root (cgroups and namespaces): %w", sandbox.ErrUnsupported)
	}
	if err := os.MkdirAll(rootDir, 0o700); err != nil {
		return nil, fmt.Errorf("native backend: %w", err)
	}
	tmp, err := sandbox.OpenTmpImages(cfg.TmpDir, cfg.Logger, "sandbox")
	if err != nil {
		return nil, fmt.Errorf("native backend: %w", err)
	}
	parent, err := sandbox.NewCgroup(cfg.CgroupParent, cfg.Host)
	if err != nil {
		return nil, err
	}
	return &Backend{cfg: cfg, parent: parent, uids: uids, tmp: tmp}, nil
}

// Name is "native".
func (b *Backend) Name() string { return "native" }

// Create starts a held sandbox: its namespaces and cgroup exist and its init is building
// the root filesystem; the command runs once Start is called.
func (b *Backend) Create(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	if !sandbox.ValidID(spec.ID) {
		return nil, fmt.Errorf("sandbox id %q: want %s… of [a-z0-9-], at most %d characters", spec.ID, sandbox.NamePrefix, sandbox.MaxIDLen)
	}
	if len(spec.Command) == 0 && spec.Image != "" {
		return nil, fmt.Errorf("native backend: image %s: a function of PackageType Image runs on --backend docker: %w", spec.Image, sandbox.ErrUnsupported)
	}
	if len(spec.Command) == 0 {
		return nil, errors.New("sandbox spec has no command")
	}
	s, err := b.reg.Create(ctx, spec.ID, func() (*Sandbox, error) { return b.start(spec) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b *Backend) start(spec sandbox.Spec) (s *Sandbox, err error) {
	// The CPU quota is written by Activate: the init's own set-up (a Go runtime and a dozen
	// mounts) would otherwise burn a 0.085-CPU quota and wait out a 100 ms period.
	setup := spec.Resources
	setup.CPUQuotaUs, setup.CPUPeriodUs = 0, 0
	uid, err := b.uids.Acquire()
	if err != nil {
		return nil, err
	}
	tmpImage, err := b.tmpImage(spec)
	if err != nil {
		b.uids.Release(uid)
		return nil, err
	}
	cg, err := sandbox.NewCgroup(b.cfg.CgroupParent+"/"+spec.ID, setup)
	if err != nil {
		b.releaseIdentity(spec.ID, uid)
		return nil, err
	}
	stopCleans := false // once the Sandbox exists, its Stop cleans up
	defer func() {
		if err != nil && !stopCleans {
			cg.Delete()
			b.releaseIdentity(spec.ID, uid)
		}
	}()
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer specR.Close()
	gateR, gateW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return nil, err
	}
	defer gateR.Close()

	cloneFlags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS |
		syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET)
	if b.cfg.HostNetwork {
		cloneFlags &^= syscall.CLONE_NEWNET
	}
	cmd := &exec.Cmd{
		Path:       b.cfg.InitBinary,
		Args:       []string{nsinit.ArgV0},
		Env:        []string{},
		ExtraFiles: []*os.File{specR, gateR}, // fds 3 and 4
		Stdout:     spec.Log,
		Stderr:     spec.Log,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneFlags}
	if err := cmd.Start(); err != nil {
		specW.Close()
		gateW.Close()
		return nil, fmt.Errorf("start sandbox init %s: %w", b.cfg.InitBinary, err)
	}
	s = &Sandbox{id: spec.ID, backend: b, cg: cg, cmd: cmd, gate: gateW, done: make(chan struct{}), res: spec.Resources, uid: uid}
	stopCleans = true
	go s.wait()
	// The init blocks reading the spec, so nothing has run outside the cgroup yet.
	if err := cg.AddProc(cmd.Process.Pid); err != nil {
		specW.Close()
		s.Stop(context.Background())
		return nil, err
	}
	// The sandbox's own CPU cgroup, read-only at /sys/fs/cgroup (see Cgroup.CPUDir).
	mounts := append(toInitMounts(spec.Mounts), nsinit.Mount{Source: cg.CPUDir(), Target: "/sys/fs/cgroup", ReadOnly: true})
	err = json.NewEncoder(specW).Encode(nsinit.Config{
		Hostname: spec.ID, Command: spec.Command, Env: spec.Env, Mounts: mounts,
		TmpBytes: spec.TmpSize(), TmpImage: tmpImage, UID: uid, GID: uid, RootDir: rootDir,
		InProcess: b.commandIsInit(spec),
	})
	specW.Close()
	if err != nil {
		s.Stop(context.Background())
		return nil, fmt.Errorf("hand the spec to the sandbox init: %w", err)
	}
	return s, nil
}

// tmpImage makes the sandbox's /tmp image ("" = tmpfs).
func (b *Backend) tmpImage(spec sandbox.Spec) (string, error) {
	if b.tmp == nil {
		return "", nil
	}
	return b.tmp.Create(spec.ID, spec.TmpSize())
}

// releaseIdentity frees what is the sandbox's alone once no process of it is left: its
// uid and its /tmp image.
func (b *Backend) releaseIdentity(id string, uid int) {
	b.uids.Release(uid)
	if b.tmp != nil {
		if err := b.tmp.Remove(id); err != nil {
			b.cfg.Logger.Warn("remove sandbox /tmp image", "sandbox", id, "err", err)
		}
	}
}

// commandIsInit reports whether the sandbox's command is the init binary itself (the
// faaslab-runtime bootstrap): the init then continues in-process instead of exec'ing a
// second copy, saving a process start on every cold start.
func (b *Backend) commandIsInit(spec sandbox.Spec) bool {
	initInfo, err := os.Stat(b.cfg.InitBinary)
	if err != nil {
		return false
	}
	for _, m := range spec.Mounts {
		if m.Target != spec.Command[0] {
			continue
		}
		if st, err := os.Stat(m.Source); err == nil && os.SameFile(st, initInfo) {
			return true
		}
	}
	return false
}

func toInitMounts(ms []sandbox.Mount) []nsinit.Mount {
	out := make([]nsinit.Mount, len(ms))
	for i, m := range ms {
		out[i] = nsinit.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	}
	return out
}

// Reap removes sandbox cgroups under the parent that no live Backend owns: what a crashed
// daemon left. Their processes are killed.
func (b *Backend) Reap(ctx context.Context) error {
	names, err := sandbox.ChildCgroups(b.cfg.CgroupParent, sandbox.NamePrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if b.reg.InUse(n) { // live, or being created: its fresh cgroup is no leftover
			continue
		}
		b.cfg.Logger.Info("reaping leftover sandbox cgroup", "cgroup", b.cfg.CgroupParent+"/"+n)
		path := b.cfg.CgroupParent + "/" + n
		errs = append(errs, sandbox.KillCgroup(path), sandbox.RemoveCgroup(path))
	}
	if b.tmp != nil {
		errs = append(errs, b.tmp.Reap(b.reg.InUse))
	}
	return errors.Join(errs...)
}

// Close stops every sandbox and removes the parent cgroup.
func (b *Backend) Close(ctx context.Context) error {
	var errs []error
	for _, s := range b.reg.Close() {
		errs = append(errs, s.Stop(ctx))
	}
	errs = append(errs, b.Reap(ctx), b.parent.Delete())
	if b.tmp != nil {
		errs = append(errs, b.tmp.Close())
	}
	return errors.Join(errs...)
}

// Sandbox is one native sandbox.
type Sandbox struct {
	id      string
	backend *Backend
	cg      *sandbox.Cgroup
	cmd     *exec.Cmd
	res     sandbox.Resources
	uid     int

	mu      sync.Mutex
	gate    *os.File // nil once opened or stopped
	exitErr error
	done    chan struct{}

	stopOnce sync.Once
	stopErr  error
}

var _ sandbox.Sandbox = (*Sandbox)(nil)

func (s *Sandbox) ID() string         { return s.id }
func (s *Sandbox) PID() int           { return s.cmd.Process.Pid }
func (s *Sandbox) NetNSPath() string  { return fmt.Sprintf("/proc/%d/ns/net", s.cmd.Process.Pid) }
func (s *Sandbox) CgroupPath() string { return s.cg.Path() }
func (s *Sandbox) Done() <-chan struct{} {
	return s.done
}

// Activate applies the CPU quota. Until then the sandbox runs under the host's cap only:
// at 128 MB the quota is 8.5 ms per 100 ms, and a runtime's start-up alone would wait out
// several periods, where Lambda boosts the init phase.
func (s *Sandbox) Activate(ctx context.Context) error {
	if s.res.CPUQuotaUs <= 0 {
		return nil
	}
	return s.cg.SetCPU(s.res.CPUQuotaUs, s.res.CPUPeriodUs)
}

// Start resets the memory peak and opens the gate: the (already unprivileged) init
// execs the command.
func (s *Sandbox) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		return fmt.Errorf("sandbox %s: started twice or stopped", s.id)
	}
	if err := s.cg.ResetMemoryPeak(); err != nil {
		return fmt.Errorf("sandbox %s: %w", s.id, err)
	}
	_, err := s.gate.Write([]byte{1})
	s.gate.Close()
	s.gate = nil
	if err != nil {
		return fmt.Errorf("sandbox %s: release its init: %w (it exited: %v)", s.id, err, s.ExitError())
	}
	return nil
}

func (s *Sandbox) wait() {
	err := s.cmd.Wait()
	s.mu.Lock()
	s.exitErr = err
	s.mu.Unlock()
	close(s.done)
}

// ExitError says how the command ended (nil while it runs or after exit status 0).
func (s *Sandbox) ExitError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitErr
}

// Stats reads the sandbox's cgroup; it stays readable after the process exits, until Stop.
func (s *Sandbox) Stats() (sandbox.Stats, error) { return s.cg.Stats() }

// Stop kills every process of the sandbox (killing its pid 1 ends its pid namespace) and
// removes its cgroup. Idempotent.
func (s *Sandbox) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		if s.gate != nil {
			s.gate.Close()
			s.gate = nil
		}
		s.mu.Unlock()
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-ctx.Done():
		case <-time.After(sandbox.StopTimeout):
		}
		s.stopErr = s.cg.Delete()
		if s.stopErr == nil { // the cgroup is empty: no process holds the uid any more
			s.backend.releaseIdentity(s.id, s.uid)
		}
		s.backend.reg.Remove(s.id)
	})
	return s.stopErr
}

// RootDir is exported for tests that check nothing is left on the host.
func RootDir() string { return filepath.Clean(rootDir) }
