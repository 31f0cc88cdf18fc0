package docker

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/faaslab/faaslab/sandbox"
)

// Sandbox is one container held by its gate. It satisfies sandbox.Sandbox.
type Sandbox struct {
	b           *Backend
	id          string // sandbox ID = container name
	containerID string
	pid         int
	proc        *pidHandle // pins the init process: exact signals, exit notice; nil if none
	cgroupPath  string
	gateCmdline []byte // /proc/PID/cmdline while the gate holds the command (NUL-separated argv)
	memoryBytes int64
	cpu         container.Resources // the CPU quota and period applied once the gate is up
	attach      *types.HijackedResponse
	logDone     chan struct{} // closed when the log stream has been copied out
	captured    chan struct{} // closed when captureAtExit is done
	removing    atomic.Bool   // Stop removes the container: its SIGKILL is ours
	ident       identity      // freed once the container is removed

	done     chan struct{}
	stopOnce sync.Once
	stopErr  error

	mu        sync.Mutex
	started   bool
	exitErr   error
	lastStats sandbox.Stats
}

var _ sandbox.Sandbox = (*Sandbox)(nil)

// Create makes a container held by the gate and starts it (so that its network namespace
// exists); the command runs on Start. On error the container is removed.
func (b *Backend) Create(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	if !sandbox.ValidID(spec.ID) {
		return nil, fmt.Errorf("docker create: invalid sandbox id %q (want %s… of [a-z0-9-], ≤ %d chars)", spec.ID, sandbox.NamePrefix, sandbox.MaxIDLen)
	}
	if len(spec.Command) == 0 && spec.Image != "" {
		cmd, err := b.imageCommand(ctx, spec.Image)
		if err != nil {
			return nil, fmt.Errorf("docker create %s: %w", spec.ID, err)
		}
		spec.Command = cmd
	}
	if len(spec.Command) == 0 {
		return nil, fmt.Errorf("docker create %s: empty command", spec.ID)
	}
	s, err := b.reg.Create(ctx, spec.ID, func() (*Sandbox, error) { return b.create(ctx, spec) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// imageCommand is what an image runs by itself, ENTRYPOINT then CMD: the command of a
// function of PackageType Image, which the gate runs as it runs any other.
func (b *Backend) imageCommand(ctx context.Context, ref string) ([]string, error) {
	info, err := b.cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	var cmd []string
	if info.Config != nil {
		cmd = append(slices.Clone(info.Config.Entrypoint), info.Config.Cmd...)
	}
	if len(cmd) == 0 {
		return nil, fmt.Errorf("image %s has neither ENTRYPOINT nor CMD: nothing to run", ref)
	}
	return cmd, nil
}

// identity is what a container has alone while it lives: its uid (also its gid) and the
// host directory holding its mounted /tmp image ("" = a tmpfs).
type identity struct {
	uid    int
	tmpDir string
}

// newIdentity takes a uid from the pool and mounts the container's /tmp image.
func (b *Backend) newIdentity(spec sandbox.Spec) (identity, error) {
	uid, err := b.uids.Acquire()
	if err != nil {
		return identity{}, fmt.Errorf("docker create %s: %w", spec.ID, err)
	}
	id := identity{uid: uid}
	if b.tmp == nil {
		return id, nil
	}
	if id.tmpDir, err = b.tmp.Mount(spec.ID, spec.TmpSize()); err != nil {
		b.uids.Release(uid)
		return identity{}, fmt.Errorf("docker create %s: %w", spec.ID, err)
	}
	return id, nil
}

// releaseIdentity frees what newIdentity took, once the container has gone: the uid, the
// /tmp mount and its image.
func (b *Backend) releaseIdentity(id string, ident identity) {
	b.uids.Release(ident.uid)
	if ident.tmpDir == "" {
		return
	}
	if err := b.tmp.Unmount(id); err != nil {
		b.cfg.Logger.Warn("remove container /tmp image", "sandbox", id, "err", err)
	}
}

// create makes and boots the container of spec, with an identity of its own.
func (b *Backend) create(ctx context.Context, spec sandbox.Spec) (_ *Sandbox, err error) {
	ident, err := b.newIdentity(spec)
	if err != nil {
		return nil, err
	}
	cfg, hostCfg := b.containerConfig(spec, ident)
	created, err := b.cli.ContainerCreate(ctx, cfg, hostCfg, nil, nil, spec.ID)
	if err != nil {
		b.releaseIdentity(spec.ID, ident)
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("docker create %s: image %s not found (build it with `faaslab image build`): %w", spec.ID, cfg.Image, err)
		}
		return nil, fmt.Errorf("docker create %s: %w", spec.ID, err)
	}
	for _, w := range created.Warnings {
		b.cfg.Logger.Warn("docker create", "sandbox", spec.ID, "warning", w)
	}
	s := &Sandbox{b: b, id: spec.ID, containerID: created.ID, memoryBytes: spec.MemoryBytes, ident: ident,
		done: make(chan struct{}), captured: make(chan struct{}),
		gateCmdline: cmdline(append(cfg.Entrypoint, cfg.Cmd...)),
		cpu:         container.Resources{CPUQuota: spec.CPUQuotaUs, CPUPeriod: int64(spec.CPUPeriodUs)}}
	if err := s.boot(ctx, spec.Log); err != nil {
		_ = s.Stop(context.WithoutCancel(ctx)) // removes the container, frees the identity
		return nil, fmt.Errorf("docker create %s: %w", spec.ID, err)
	}
	return s, nil
}

// containerConfig maps a spec to the engine's container configuration. The engine's
// default seccomp profile applies: no SecurityOpt here may say seccomp=unconfined.
func (b *Backend) containerConfig(spec sandbox.Spec, ident identity) (*container.Config, *container.HostConfig) {
	img := spec.Image
	if img == "" {
		img = b.cfg.Image
	}
	pids := spec.PidsMax
	if pids <= 0 {
		pids = sandbox.DefaultPidsMax
	}
	cfg := &container.Config{
		Image: img,
		// Numeric: the uid need not be in the image's /etc/passwd (the gate and the
		// image's files are world-readable and -executable).
		User: fmt.Sprintf("%d:%d", ident.uid, ident.uid),
		// The gate is the entrypoint even in derived images that set their own.
		Entrypoint: []string{b.cfg.GatePath},
		Cmd:        append([]string{"gate", "--"}, spec.Command...),
		Env:        spec.Env,
		Labels:     map[string]string{LabelScope: b.cfg.Scope, LabelSandbox: spec.ID, LabelFunction: spec.Function},
	}
	mounts := make([]mount.Mount, 0, len(spec.Mounts)+1)
	for _, m := range spec.Mounts {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	var tmpfs map[string]string
	if ident.tmpDir != "" {
		// The ext4 image mounted on the host: its pages are not the container's memory.
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: ident.tmpDir, Target: "/tmp"})
	} else {
		tmpfs = map[string]string{"/tmp": "rw,nosuid,nodev,mode=1777,size=" + strconv.FormatInt(spec.TmpSize(), 10)}
	}
	// The log stream is attached (see boot); with a Log writer the engine need not keep a copy.
	logCfg := container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "1"}}
	if spec.Log != nil {
		logCfg = container.LogConfig{Type: "none"}
	}
	hostCfg := &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Tmpfs:          tmpfs,
		Mounts:         mounts,
		LogConfig:      logCfg,
		Resources: container.Resources{
			CgroupParent: b.cfg.CgroupParent,
			Memory:       spec.MemoryBytes,
			MemorySwap:   spec.MemoryBytes, // = Memory: no swap
			// CPUQuota/CPUPeriod are applied by boot once the gate is up (see there).
			PidsLimit: &pids,
		},
	}
	return cfg, hostCfg
}

// boot attaches the log stream, arms the exit watcher, starts the container, reads the
// gate's pid and cgroup, and applies the CPU quota once the gate is up.
//
// The quota comes last on purpose: runc's init and the gate's start-up are the platform's
// provisioning, not the function's work, and at 0.085 CPU they would take several CFS
// periods (~0.3 s measured). The command itself only ever runs under the quota.
func (s *Sandbox) boot(ctx context.Context, log io.Writer) error {
	cli := s.b.cli
	// Attach before start so no output is lost; the stream outlives the request ctx.
	if log != nil {
		hj, err := cli.ContainerAttach(context.WithoutCancel(ctx), s.containerID,
			container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
		if err != nil {
			return fmt.Errorf("attach log stream: %w", err)
		}
		s.attach = &hj
		s.logDone = make(chan struct{})
		go func() {
			defer close(s.logDone)
			_, _ = stdcopy.StdCopy(log, log, hj.Reader)
		}()
	}
	// next-exit before start: the engine registers the wait before answering, so even an
	// immediate exit is seen.
	waitC, errC := cli.ContainerWait(context.WithoutCancel(ctx), s.containerID, container.WaitConditionNextExit)
	if err := cli.ContainerStart(ctx, s.containerID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	go s.watch(waitC, errC)
	info, err := cli.ContainerInspect(ctx, s.containerID)
	if err != nil {
		return fmt.Errorf("inspect container: %w", err)
	}
	if info.State == nil || info.State.Pid == 0 {
		return fmt.Errorf("container exited right after start (is %s in image %s?): %w",
			s.b.cfg.GatePath, info.Config.Image, sandbox.ErrStopped)
	}
	s.pid = info.State.Pid
	if s.cgroupPath, err = sandbox.CgroupOfPID(s.pid); err != nil {
		return err
	}
	// Opened before the probes below check the process is our gate, so the handle is exact.
	s.proc = openPid(s.pid)
	go s.captureAtExit()
	if err := s.awaitGate(ctx); err != nil {
		return err
	}
	return s.applyCPUQuota(ctx)
}

// applyCPUQuota writes the quota into the container's cgroup (microseconds, where the
// engine's update API costs ~30 ms here), then tells the engine in the background so that
// `docker inspect` shows it; the engine writes the same values.
func (s *Sandbox) applyCPUQuota(ctx context.Context) error {
	if s.cpu.CPUQuota <= 0 {
		return nil
	}
	cg, err := sandbox.LoadCgroup(s.cgroupPath)
	if err != nil {
		return err
	}
	if err := cg.SetCPU(s.cpu.CPUQuota, uint64(s.cpu.CPUPeriod)); err != nil {
		return err
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := s.b.cli.ContainerUpdate(ctx, s.containerID, container.UpdateConfig{Resources: s.cpu}); err != nil && !cerrdefs.IsNotFound(err) {
			s.b.cfg.Logger.Warn("docker update cpu quota", "sandbox", s.id, "err", err)
		}
	}()
	return nil
}

// watch records how the container ended and closes done.
func (s *Sandbox) watch(waitC <-chan container.WaitResponse, errC <-chan error) {
	var exitErr error
	select {
	case res := <-waitC:
		s.awaitCapture()
		exitErr = s.exitError(res)
	case err := <-errC:
		exitErr = fmt.Errorf("sandbox %s: waiting for the container failed: %v: %w", s.id, err, sandbox.ErrStopped)
	}
	if s.logDone != nil {
		// The engine closes the attach stream once the process is gone; bounded because
		// a stuck stream must not keep Done open.
		select {
		case <-s.logDone:
		case <-time.After(time.Second):
		}
	}
	s.mu.Lock()
	s.exitErr = exitErr
	s.mu.Unlock()
	close(s.done)
}

// exitError turns the wait result into the contract's ExitError (nil on status 0).
func (s *Sandbox) exitError(res container.WaitResponse) error {
	if res.Error != nil && res.Error.Message != "" {
		return fmt.Errorf("sandbox %s: %s: %w", s.id, res.Error.Message, sandbox.ErrStopped)
	}
	// The kernel's OOM killer sends SIGKILL: only then is the engine asked (one round
	// trip less on every other exit, which the cold-start benchmark sees).
	oom := s.cachedStats().OOMKills > 0
	if res.StatusCode == 128+9 {
		oom = s.oomKilled()
	}
	if res.StatusCode == 0 && !oom {
		return nil
	}
	if oom {
		return fmt.Errorf("sandbox %s: killed by the OOM killer (memory limit %d MB), exit status %d: %w",
			s.id, s.memoryBytes>>20, res.StatusCode, sandbox.ErrStopped)
	}
	return fmt.Errorf("sandbox %s: process exited with status %d: %w", s.id, res.StatusCode, sandbox.ErrStopped)
}

// oomKilled asks the engine whether the kernel OOM-killed the container, and counts it in
// the cached stats (the cgroup is gone once the container stopped).
func (s *Sandbox) oomKilled() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var oom bool
	// The engine learns of the OOM kill from a separate event that can trail the exit
	// under load: ask again briefly before calling it a plain SIGKILL.
	tries := 4
	if s.removing.Load() {
		tries = 1
	}
	for try := 0; try < tries && !oom; try++ {
		if try > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		info, err := s.b.cli.ContainerInspect(ctx, s.containerID)
		oom = err == nil && info.State != nil && info.State.OOMKilled
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if oom {
		s.lastStats.OOMKills = max(s.lastStats.OOMKills, 1)
		// Missed the cgroup at exit: an OOM kill means usage reached the limit.
		s.lastStats.MemoryPeakBytes = max(s.lastStats.MemoryPeakBytes, uint64(s.memoryBytes))
	}
	return oom || s.lastStats.OOMKills > 0
}

// ID is the sandbox ID (also the container name).
func (s *Sandbox) ID() string { return s.id }

// ContainerID is the engine's full container ID.
func (s *Sandbox) ContainerID() string { return s.containerID }

// NetNSPath is the container's network namespace, via its init's pid.
func (s *Sandbox) NetNSPath() string { return fmt.Sprintf("/proc/%d/ns/net", s.pid) }

// PID is the host pid of the container's init (the gate, then the command).
func (s *Sandbox) PID() int { return s.pid }

// CgroupPath is the container's cgroup relative to the hierarchy root, as the kernel
// reports it (/faaslab-docker/<container id> with the cgroupfs driver).
func (s *Sandbox) CgroupPath() string { return s.cgroupPath }

// Done is closed when the container's process has exited.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// ExitError says how the process ended; nil while it runs or on status 0.
func (s *Sandbox) ExitError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitErr
}

// Stats reads the container's cgroup; once the container has gone it returns the last
// values read (with the OOM kill the engine reported).
func (s *Sandbox) Stats() (sandbox.Stats, error) {
	select {
	case <-s.done:
		return s.cachedStats(), nil
	default:
	}
	st, err := sandbox.ReadStats(s.cgroupPath)
	if err != nil {
		select {
		case <-s.done: // the engine removed the cgroup as the process ended
			return s.cachedStats(), nil
		default:
			return sandbox.Stats{}, fmt.Errorf("stats of sandbox %s: %w", s.id, err)
		}
	}
	return s.recordStats(st), nil
}

// recordStats caches st (counters only grow) and returns what is cached.
func (s *Sandbox) recordStats(st sandbox.Stats) sandbox.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.OOMKills = max(st.OOMKills, s.lastStats.OOMKills)
	st.MemoryPeakBytes = max(st.MemoryPeakBytes, s.lastStats.MemoryPeakBytes)
	st.CPUUsageNs = max(st.CPUUsageNs, s.lastStats.CPUUsageNs)
	s.lastStats = st
	return st
}

func (s *Sandbox) cachedStats() sandbox.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastStats
}

// Stop force-removes the container (SIGKILL), waits until it has gone, and frees its uid
// and /tmp (kept when the removal failed: the container may still use them; Reap gets
// the /tmp later). Idempotent.
func (s *Sandbox) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopErr = s.remove(ctx)
		if s.stopErr == nil {
			s.b.releaseIdentity(s.id, s.ident)
		}
		s.b.reg.Remove(s.id)
	})
	return s.stopErr
}

// remove kills and removes the container and waits for the exit watcher.
func (s *Sandbox) remove(ctx context.Context) error {
	s.removing.Store(true) // our own SIGKILL: no OOM kill to wait for
	// Keep the peak memory of a sandbox stopped while it ran.
	if s.pid != 0 {
		_, _ = s.Stats()
	}
	err := s.b.cli.ContainerRemove(ctx, s.containerID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop sandbox %s: remove container: %w", s.id, err)
	}
	if s.attach != nil {
		s.attach.Close()
	}
	s.closePid()
	if s.pid == 0 {
		return nil // never started: no watcher
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(sandbox.StopTimeout):
		return fmt.Errorf("stop sandbox %s: container still running after %v", s.id, sandbox.StopTimeout)
	case <-ctx.Done():
		return fmt.Errorf("stop sandbox %s: %w", s.id, ctx.Err())
	}
}
