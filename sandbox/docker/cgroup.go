package docker

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faaslab/faaslab/sandbox"
)

// cgroupRoot is where cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// procCgroups is a process's cgroup membership read from /proc/PID/cgroup:
// controller (v1, e.g. "memory") or "" (v2 unified) → path relative to the hierarchy root.
type procCgroups map[string]string

// readProcCgroups parses /proc/PID/cgroup.
func readProcCgroups(pid int) (procCgroups, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("read cgroups of pid %d: %w", pid, err)
	}
	defer f.Close()
	cg := procCgroups{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "hierarchy-ID:controller-list:path"; v2 has an empty controller list.
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			cg[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			cg[c] = parts[2]
		}
	}
	return cg, sc.Err()
}

// path is the sandbox's cgroup: the memory controller's on v1, the unified one on v2.
func (cg procCgroups) path(v2 bool) string {
	if v2 {
		return cg[""]
	}
	return cg["memory"]
}

// cgroupFiles reads a container's cgroup counters from cgroupfs.
type cgroupFiles struct {
	v2     bool
	groups procCgroups
}

// dir is the cgroupfs directory of controller (ignored on v2).
func (c cgroupFiles) dir(controller string) string {
	if c.v2 {
		return filepath.Join(cgroupRoot, c.groups[""])
	}
	return filepath.Join(cgroupRoot, controller, c.groups[controller])
}

// stats reads memory usage and peak, OOM kills and CPU time.
func (c cgroupFiles) stats() (sandbox.Stats, error) {
	var st sandbox.Stats
	var err error
	if c.v2 {
		d := c.dir("")
		if st.MemoryUsageBytes, err = readUint(filepath.Join(d, "memory.current")); err != nil {
			return st, err
		}
		// memory.peak exists from kernel 5.19; without it the current usage is the best bound.
		if st.MemoryPeakBytes, err = readUint(filepath.Join(d, "memory.peak")); errors.Is(err, fs.ErrNotExist) {
			st.MemoryPeakBytes = st.MemoryUsageBytes
		} else if err != nil {
			return st, err
		}
		if st.OOMKills, err = readKey(filepath.Join(d, "memory.events"), "oom_kill"); err != nil {
			return st, err
		}
		usageUs, err := readKey(filepath.Join(d, "cpu.stat"), "usage_usec")
		st.CPUUsageNs = usageUs * 1000
		return st, err
	}
	m := c.dir("memory")
	if st.MemoryUsageBytes, err = readUint(filepath.Join(m, "memory.usage_in_bytes")); err != nil {
		return st, err
	}
	if st.MemoryPeakBytes, err = readUint(filepath.Join(m, "memory.max_usage_in_bytes")); err != nil {
		return st, err
	}
	if st.OOMKills, err = readKey(filepath.Join(m, "memory.oom_control"), "oom_kill"); err != nil {
		return st, err
	}
	st.CPUUsageNs, err = readUint(filepath.Join(c.dir("cpuacct"), "cpuacct.usage"))
	return st, err
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read cgroup file: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// readKey reads the value of key in a flat-keyed cgroup file ("key value" lines).
// A missing key reads as 0: old kernels lack oom_kill.
func readKey(path, key string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read cgroup file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s %s: %w", path, key, err)
			}
			return v, nil
		}
	}
	return 0, nil
}

// parentCgroup is the host-level cgroup all containers of a backend sit under, capped at
// the host profile (the same rule as the native backend: a small profile can be emulated
// on a bigger box).
type parentCgroup struct {
	v2   bool
	path string   // relative to the hierarchy root, e.g. /faaslab-docker
	made []string // directories this backend created (removed on Close)
}

// setup creates the parent (when missing) and writes the profile's limits into it.
func (p *parentCgroup) setup(host sandbox.Resources) error {
	quota := strconv.FormatInt(host.CPUQuotaUs, 10)
	period := strconv.FormatUint(host.CPUPeriodUs, 10)
	mem := strconv.FormatInt(host.MemoryBytes, 10)
	if p.v2 {
		return p.setupDir(filepath.Join(cgroupRoot, p.path), [][2]string{
			{"cpu.max", quota + " " + period},
			{"memory.max", mem},
			{"cgroup.subtree_control", "+cpu +memory +pids"},
		})
	}
	// The period before the quota: the kernel checks the quota against the current period.
	if err := p.setupDir(filepath.Join(cgroupRoot, "cpu", p.path), [][2]string{
		{"cpu.cfs_period_us", period}, {"cpu.cfs_quota_us", quota},
	}); err != nil {
		return err
	}
	return p.setupDir(filepath.Join(cgroupRoot, "memory", p.path), [][2]string{{"memory.limit_in_bytes", mem}})
}

// setupDir creates dir when missing and writes files (name, value) in order.
func (p *parentCgroup) setupDir(dir string, files [][2]string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create parent cgroup %s (run as root): %w", dir, err)
		}
		p.made = append(p.made, dir)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f[0]), []byte(f[1]), 0); err != nil {
			return fmt.Errorf("cap parent cgroup %s: write %q to %s: %w", dir, f[1], f[0], err)
		}
	}
	return nil
}

// remove deletes the parent in every hierarchy: the ones setup created and the ones the
// runtime created for the other controllers (runc leaves parents behind). A parent still
// holding containers (EBUSY) is an error only where setup created it.
func (p *parentCgroup) remove() error {
	dirs := []string{filepath.Join(cgroupRoot, p.path)}
	if !p.v2 {
		dirs = dirs[:0]
		entries, err := os.ReadDir(cgroupRoot)
		if err != nil {
			return fmt.Errorf("list cgroup hierarchies: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(cgroupRoot, e.Name(), p.path))
			}
		}
	}
	made := map[string]bool{}
	for _, d := range p.made {
		made[d] = true
	}
	var errs []error
	for _, d := range dirs {
		err := os.Remove(d)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && made[d] {
			errs = append(errs, fmt.Errorf("remove parent cgroup %s: %w", d, err))
		}
	}
	p.made = nil
	return errors.Join(errs...)
}

// setCPUQuota writes the CFS quota and period of the container's cgroup.
func (c cgroupFiles) setCPUQuota(quotaUs int64, periodUs uint64) error {
	files := [][2]string{
		// The period before the quota: the kernel checks the quota against the current period.
		{filepath.Join(c.dir("cpu"), "cpu.cfs_period_us"), strconv.FormatUint(periodUs, 10)},
		{filepath.Join(c.dir("cpu"), "cpu.cfs_quota_us"), strconv.FormatInt(quotaUs, 10)},
	}
	if c.v2 {
		files = [][2]string{{filepath.Join(c.dir(""), "cpu.max"), fmt.Sprintf("%d %d", quotaUs, periodUs)}}
	}
	for _, f := range files {
		if err := os.WriteFile(f[0], []byte(f[1]), 0); err != nil {
			return fmt.Errorf("set cpu quota: write %q to %s: %w", f[1], f[0], err)
		}
	}
	return nil
}
