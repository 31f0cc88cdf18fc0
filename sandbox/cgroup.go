package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/faaslab/faaslab/sandbox/cpustat"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CgroupRoot is where cgroup hierarchies are mounted.
const CgroupRoot = "/sys/fs/cgroup"

// v1Controllers are the cgroup v1 hierarchies a sandbox is placed in.
var v1Controllers = []cgroup1.Name{cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory, cgroup1.Pids}

// ErrNoCgroups: neither a usable cgroup v1 nor v2 hierarchy is mounted.
var ErrNoCgroups = fmt.Errorf("no usable cgroup hierarchy (need cpu, memory, pids): %w", ErrUnsupported)

// CgroupV2 reports whether this host uses the unified (v2) hierarchy only. Hybrid hosts
// (v2 mounted without controllers, like the project's machine) use v1.
func CgroupV2() bool { return cgroups.Mode() == cgroups.Unified }

// Cgroup is one sandbox's (or the host parent's) cgroup, whichever version backs it. The
// containerd types stay behind this one boundary.
type Cgroup struct {
	path string // relative to the hierarchy root, e.g. /faaslab/faaslab-fn-1
	v1   cgroup1.Cgroup
	v2   *cgroup2.Manager

	statsMu sync.Mutex
	stats   *statFiles // opened on the first Stats: it runs after every invocation
}

// Path is the cgroup's path relative to the hierarchy root.
func (c *Cgroup) Path() string { return c.path }

// NewCgroup creates (or opens) the cgroup at path with res applied. Zero fields of res are
// left unlimited.
func NewCgroup(path string, res Resources) (*Cgroup, error) {
	c := &Cgroup{path: path}
	var err error
	switch cgroups.Mode() {
	case cgroups.Unified:
		c.v2, err = cgroup2.NewManager(CgroupRoot, path, v2Resources(path, res))
	case cgroups.Legacy, cgroups.Hybrid:
		c.v1, err = cgroup1.New(cgroup1.StaticPath(path), v1Resources(res), cgroup1.WithHierarchy(v1Hierarchy))
	default:
		return nil, ErrNoCgroups
	}
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", path, err)
	}
	return c, nil
}

// ErrNoSuchCgroup: the cgroup to load does not exist (or no longer).
var ErrNoSuchCgroup = errors.New("no such cgroup")

// LoadCgroup opens an existing cgroup (one the engine or an earlier daemon made) without
// changing it.
func LoadCgroup(path string) (*Cgroup, error) {
	c := &Cgroup{path: path}
	switch cgroups.Mode() {
	case cgroups.Unified:
		if _, err := os.Stat(filepath.Join(CgroupRoot, path)); err != nil {
			return nil, fmt.Errorf("load cgroup %s: %w: %w", path, ErrNoSuchCgroup, err)
		}
		m, err := cgroup2.Load(path)
		if err != nil {
			return nil, fmt.Errorf("load cgroup %s: %w", path, err)
		}
		c.v2 = m
	case cgroups.Legacy, cgroups.Hybrid:
		cg, err := cgroup1.Load(cgroup1.StaticPath(path), cgroup1.WithHierarchy(v1Hierarchy))
		if errors.Is(err, cgroup1.ErrCgroupDeleted) {
			return nil, fmt.Errorf("load cgroup %s: %w", path, ErrNoSuchCgroup)
		}
		if err != nil {
			return nil, fmt.Errorf("load cgroup %s: %w", path, err)
		}
		c.v1 = cg
	default:
		return nil, ErrNoCgroups
	}
	return c, nil
}

// CgroupOfPID is pid's cgroup relative to the hierarchy root (the memory controller's on
// cgroup v1, the unified one on v2), from /proc/PID/cgroup.
func CgroupOfPID(pid int) (string, error) {
	if CgroupV2() {
		p, err := cgroup2.PidGroupPath(pid)
		if err != nil {
			return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
		}
		return p, nil
	}
	paths, err := cgroup1.ParseCgroupFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	p, ok := paths[string(cgroup1.Memory)]
	if !ok {
		return "", fmt.Errorf("pid %d is in no memory cgroup", pid)
	}
	return p, nil
}

// v1Hierarchy limits cgroup1 to the controllers sandboxes use: creating a cgroup in every
// mounted hierarchy would cost cold-start time for nothing.
func v1Hierarchy() ([]cgroup1.Subsystem, error) {
	// Each constructor appends its controller's name to the root it is given.
	return []cgroup1.Subsystem{
		cgroup1.NewCpu(CgroupRoot),
		cgroup1.NewCpuacct(CgroupRoot),
		cgroup1.NewMemory(CgroupRoot, cgroup1.OptionalSwap()),
		cgroup1.NewPids(CgroupRoot),
	}, nil
}

func v1Resources(r Resources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if r.CPUQuotaUs > 0 {
		quota, period := r.CPUQuotaUs, r.CPUPeriodUs
		out.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if r.MemoryBytes > 0 {
		// memsw = limit: no swap on top of the limit (ignored where swap accounting is off).
		limit, swap := r.MemoryBytes, r.MemoryBytes
		swappiness := uint64(0)
		out.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap, Swappiness: &swappiness}
	}
	if r.PidsMax > 0 {
		limit := r.PidsMax
		out.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return out
}

func v2Resources(path string, r Resources) *cgroup2.Resources {
	out := &cgroup2.Resources{}
	if r.CPUQuotaUs > 0 {
		quota, period := r.CPUQuotaUs, r.CPUPeriodUs
		out.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)}
	}
	if r.MemoryBytes > 0 {
		limit := r.MemoryBytes
		out.Memory = &cgroup2.Memory{Max: &limit}
		// memory.swap.max exists only with swap accounting; writing it elsewhere fails.
		if _, err := os.Stat(filepath.Join(CgroupRoot, filepath.Dir(path), "memory.swap.max")); err == nil {
			swap := int64(0)
			out.Memory.Swap = &swap
		}
	}
	if r.PidsMax > 0 {
		out.Pids = &cgroup2.Pids{Max: r.PidsMax}
	}
	return out
}

// AddProc moves pid into the cgroup.
func (c *Cgroup) AddProc(pid int) error {
	var err error
	if c.v2 != nil {
		err = c.v2.AddProc(uint64(pid))
	} else {
		err = c.v1.AddProc(uint64(pid))
	}
	if err != nil {
		return fmt.Errorf("add pid %d to cgroup %s: %w", pid, c.path, err)
	}
	return nil
}

// SetCPU writes the CPU bandwidth limit (cpu.cfs_quota_us + cpu.cfs_period_us on v1,
// cpu.max on v2).
func (c *Cgroup) SetCPU(quotaUs int64, periodUs uint64) error {
	var err error
	if c.v2 != nil {
		// A cgroup created without a CPU limit has no cpu.max until the parent's
		// subtree_control enables the cpu controller.
		if err = c.v2.ToggleControllers([]string{"cpu"}, cgroup2.Enable); err == nil {
			err = c.v2.Update(&cgroup2.Resources{CPU: &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quotaUs, &periodUs)}})
		}
	} else {
		err = c.v1.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &quotaUs, Period: &periodUs}})
	}
	if err != nil {
		return fmt.Errorf("set cpu quota %d/%d of %s: %w", quotaUs, periodUs, c.path, err)
	}
	return nil
}

// ResetMemoryPeak restarts the peak-memory count, so Max Memory Used measures the
// function, not the sandbox's set-up. Only cgroup v1 has a global reset; on v2 it is a no-op.
func (c *Cgroup) ResetMemoryPeak() error {
	if c.v2 != nil {
		return nil
	}
	return os.WriteFile(filepath.Join(controllerDir("memory", c.path), "memory.max_usage_in_bytes"), []byte("0"), 0)
}

// Stats reads the cgroup's counters through files kept open (pread at offset 0 makes
// cgroupfs produce a fresh value), a quarter of the syscalls of ReadStats.
func (c *Cgroup) Stats() (Stats, error) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	if c.stats == nil {
		f, err := openStatFiles(c.path)
		if err != nil {
			return ReadStats(c.path)
		}
		c.stats = f
	}
	return c.stats.read()
}

func (c *Cgroup) closeStats() {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	if c.stats != nil {
		c.stats.close()
		c.stats = nil
	}
}

// statFiles are a cgroup's counter files, open for repeated reads.
type statFiles struct {
	v2                       bool
	usage, peak, events, cpu *os.File
	buf                      [512]byte
}

func openStatFiles(path string) (*statFiles, error) {
	f := &statFiles{v2: CgroupV2()}
	names := [4]string{
		filepath.Join(controllerDir("memory", path), "memory.usage_in_bytes"),
		filepath.Join(controllerDir("memory", path), "memory.max_usage_in_bytes"),
		filepath.Join(controllerDir("memory", path), "memory.oom_control"),
		filepath.Join(controllerDir("cpuacct", path), "cpuacct.usage"),
	}
	if f.v2 {
		d := filepath.Join(CgroupRoot, path)
		names = [4]string{filepath.Join(d, "memory.current"), filepath.Join(d, "memory.peak"),
			filepath.Join(d, "memory.events"), filepath.Join(d, "cpu.stat")}
	}
	targets := [4]**os.File{&f.usage, &f.peak, &f.events, &f.cpu}
	for i, n := range names {
		h, err := os.Open(n)
		if f.v2 && targets[i] == &f.peak && errors.Is(err, fs.ErrNotExist) {
			continue // memory.peak exists from 5.19; read then uses the current usage
		}
		if err != nil {
			f.close()
			return nil, err
		}
		*targets[i] = h
	}
	return f, nil
}

func (f *statFiles) close() {
	for _, h := range []*os.File{f.usage, f.peak, f.events, f.cpu} {
		if h != nil {
			h.Close()
		}
	}
}

func (f *statFiles) text(h *os.File) (string, error) {
	n, err := h.ReadAt(f.buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return string(f.buf[:n]), nil
}

func (f *statFiles) uint(h *os.File) (uint64, error) {
	t, err := f.text(h)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(t), 10, 64)
}

func (f *statFiles) key(h *os.File, key string) (uint64, error) {
	t, err := f.text(h)
	if err != nil {
		return 0, err
	}
	return parseKey(t, key)
}

func (f *statFiles) read() (Stats, error) {
	var st Stats
	var err error
	if st.MemoryUsageBytes, err = f.uint(f.usage); err != nil {
		return st, err
	}
	st.MemoryPeakBytes = st.MemoryUsageBytes // the best bound without memory.peak
	if f.peak != nil {
		if st.MemoryPeakBytes, err = f.uint(f.peak); err != nil {
			return st, err
		}
	}
	if st.OOMKills, err = f.key(f.events, "oom_kill"); err != nil {
		return st, err
	}
	if f.v2 {
		t, err := f.text(f.cpu)
		if err != nil {
			return st, err
		}
		cs, err := cpustat.Parse(t)
		st.CPUUsageNs = cs.UsageNs
		return st, err
	}
	st.CPUUsageNs, err = f.uint(f.cpu)
	return st, err
}

// Procs lists the pids in the cgroup and its descendants (memory hierarchy on v1).
func (c *Cgroup) Procs() ([]int, error) {
	var pids []int
	if c.v2 != nil {
		ps, err := c.v2.Procs(true)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		for _, p := range ps {
			pids = append(pids, int(p))
		}
		return pids, err
	}
	ps, err := c.v1.Processes(cgroup1.Memory, true)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil, nil
	}
	for _, p := range ps {
		pids = append(pids, p.Pid)
	}
	return pids, err
}

// Kill SIGKILLs every process in the cgroup and its descendants until none is left
// (bounded by StopTimeout): cgroup.kill on v2 (atomic for the subtree), a SIGKILL loop on v1.
func (c *Cgroup) Kill() error {
	deadline := time.Now().Add(StopTimeout)
	if c.v2 != nil {
		if err := c.v2.Kill(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("kill cgroup %s: %w", c.path, err)
		}
	}
	for {
		pids, err := c.Procs()
		if err != nil || len(pids) == 0 {
			return err
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s still has processes %v after SIGKILL", c.path, pids)
		}
		time.Sleep(time.Millisecond)
	}
}

// Delete kills what is left and removes the cgroup. A missing cgroup is not an error.
func (c *Cgroup) Delete() error {
	c.closeStats()
	if err := c.Kill(); err != nil {
		return err
	}
	return RemoveCgroup(c.path)
}

// dirs are the cgroupfs directories of a cgroup path.
func dirs(path string) []string {
	if CgroupV2() {
		return []string{filepath.Join(CgroupRoot, path)}
	}
	out := make([]string, 0, len(v1Controllers))
	for _, n := range v1Controllers {
		out = append(out, filepath.Join(CgroupRoot, string(n), path))
	}
	return out
}

// CPUDir is the host directory of the cgroup's CPU controller files (cpu.stat, and on
// cgroup v1 cpuacct.usage): a sandbox sees it read-only at /sys/fs/cgroup, so a workload
// can measure its own CPU time and throttling, as in a container with a private cgroup
// namespace.
func (c *Cgroup) CPUDir() string { return controllerDir("cpu", c.path) }

// controllerDir is the directory holding one controller's files of path.
func controllerDir(controller, path string) string {
	if CgroupV2() {
		return filepath.Join(CgroupRoot, path)
	}
	return filepath.Join(CgroupRoot, controller, path)
}

// KillCgroup SIGKILLs every process in the cgroup at path (and its children) until none
// is left. A missing cgroup is not an error.
func KillCgroup(path string) error {
	c, err := LoadCgroup(path)
	if errors.Is(err, ErrNoSuchCgroup) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.Kill()
}

// Procs lists the pids in the cgroup at path and its descendants. A missing cgroup has none.
func Procs(path string) ([]int, error) {
	c, err := LoadCgroup(path)
	if errors.Is(err, ErrNoSuchCgroup) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return c.Procs()
}

// RemoveCgroup removes the (empty) cgroup at path and its descendants in every hierarchy.
// A missing cgroup is not an error. Removal retries briefly: the kernel frees a cgroup
// a moment after its last process dies.
func RemoveCgroup(path string) error {
	var errs []error
	for _, dir := range dirs(path) {
		errs = append(errs, removeTree(dir))
	}
	return errors.Join(errs...)
}

// RemoveCgroupEverywhere removes the (empty) cgroup at path from every mounted hierarchy,
// not only the four sandboxes use: runc creates a container's parent in all of them (blkio,
// cpuset, ...) and leaves it there. A hierarchy where it is busy (another backend shares
// it) is reported, the others are still cleaned.
func RemoveCgroupEverywhere(path string) error {
	err := RemoveCgroup(path)
	if CgroupV2() {
		return err
	}
	entries, rerr := os.ReadDir(CgroupRoot)
	if rerr != nil {
		return errors.Join(err, fmt.Errorf("list cgroup hierarchies: %w", rerr))
	}
	for _, e := range entries {
		if e.IsDir() {
			if rerr := os.Remove(filepath.Join(CgroupRoot, e.Name(), path)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("remove cgroup %s in %s: %w", path, e.Name(), rerr))
			}
		}
	}
	return err
}

func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(StopTimeout)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// ChildCgroups lists the names of the cgroups directly under path whose names start
// with prefix.
func ChildCgroups(path, prefix string) ([]string, error) {
	entries, err := os.ReadDir(controllerDir("memory", path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// ReadCPUQuota reads a cgroup's CPU bandwidth limit back from cgroupfs: cpu.cfs_quota_us
// and cpu.cfs_period_us (v1) or cpu.max (v2). An unlimited quota reads as -1.
func ReadCPUQuota(path string) (quotaUs int64, periodUs uint64, err error) {
	if CgroupV2() {
		b, err := os.ReadFile(filepath.Join(CgroupRoot, path, "cpu.max"))
		if err != nil {
			return 0, 0, err
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return 0, 0, fmt.Errorf("cpu.max of %s: unexpected %q", path, b)
		}
		quotaUs = -1
		if f[0] != "max" {
			if quotaUs, err = strconv.ParseInt(f[0], 10, 64); err != nil {
				return 0, 0, err
			}
		}
		periodUs, err = strconv.ParseUint(f[1], 10, 64)
		return quotaUs, periodUs, err
	}
	dir := controllerDir("cpu", path)
	q, err := readInt(filepath.Join(dir, "cpu.cfs_quota_us"))
	if err != nil {
		return 0, 0, err
	}
	p, err := readUint(filepath.Join(dir, "cpu.cfs_period_us"))
	return q, p, err
}

// ReadMemoryLimit reads memory.limit_in_bytes (v1) or memory.max (v2).
func ReadMemoryLimit(path string) (int64, error) {
	if CgroupV2() {
		b, err := os.ReadFile(filepath.Join(CgroupRoot, path, "memory.max"))
		if err != nil {
			return 0, err
		}
		if s := strings.TrimSpace(string(b)); s == "max" {
			return -1, nil
		}
		return readInt(filepath.Join(CgroupRoot, path, "memory.max"))
	}
	return readInt(filepath.Join(controllerDir("memory", path), "memory.limit_in_bytes"))
}

// ReadStats reads memory usage and peak, OOM kills and CPU time of the cgroup at path:
// Cgroup.Stats's reads, once.
func ReadStats(path string) (Stats, error) {
	f, err := openStatFiles(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.close()
	return f.read()
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// parseKey finds key's value in flat-keyed text ("key value" lines); missing reads as 0.
func parseKey(text, key string) (uint64, error) {
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			return strconv.ParseUint(f[1], 10, 64)
		}
	}
	return 0, nil
}
