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

// The engine creates and removes the containers' cgroups; this file only finds them,
// writes the CPU quota once the gate is up (see boot), and manages the parent. Reading
// counters is the shared sandbox.ReadStats.

// readCgroupPath returns pid's cgroup relative to the hierarchy root, from
// /proc/PID/cgroup: the memory controller's on v1, the unified one on v2.
func readCgroupPath(pid int, v2 bool) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("read cgroups of pid %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "hierarchy-ID:controller-list:path"; v2 has an empty controller list.
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[1] == "" {
			return parts[2], nil
		}
		for _, c := range strings.Split(parts[1], ",") {
			if !v2 && c == "memory" {
				return parts[2], nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read cgroups of pid %d: %w", pid, err)
	}
	return "", fmt.Errorf("pid %d is in no memory cgroup (cgroup v2: %v)", pid, v2)
}

// setCPUQuota writes the CFS quota and period of the cgroup at path.
func setCPUQuota(v2 bool, path string, quotaUs int64, periodUs uint64) error {
	dir := filepath.Join(sandbox.CgroupRoot, "cpu", path)
	files := [][2]string{
		// The period before the quota: the kernel checks the quota against the current period.
		{filepath.Join(dir, "cpu.cfs_period_us"), strconv.FormatUint(periodUs, 10)},
		{filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(quotaUs, 10)},
	}
	if v2 {
		files = [][2]string{{filepath.Join(sandbox.CgroupRoot, path, "cpu.max"), fmt.Sprintf("%d %d", quotaUs, periodUs)}}
	}
	for _, f := range files {
		if err := os.WriteFile(f[0], []byte(f[1]), 0); err != nil {
			return fmt.Errorf("set cpu quota: write %q to %s: %w", f[1], f[0], err)
		}
	}
	return nil
}

// parentCgroup is the host-level cgroup all containers of a backend sit under, capped at
// the host profile like the native backend's (a small profile emulated on a bigger box).
type parentCgroup struct {
	v2      bool
	path    string // relative to the hierarchy root, e.g. /faaslab-docker
	existed bool   // the parent was there before setup: leave it on Close
}

// setup creates the parent (when missing) with the profile's limits.
func (p *parentCgroup) setup(host sandbox.Resources) error {
	_, err := os.Stat(filepath.Join(sandbox.CgroupRoot, "memory", p.path))
	if p.v2 {
		_, err = os.Stat(filepath.Join(sandbox.CgroupRoot, p.path))
	}
	p.existed = err == nil
	if _, err := sandbox.NewCgroup(p.path, host); err != nil {
		return fmt.Errorf("cap parent cgroup %s at the host profile (run as root): %w", p.path, err)
	}
	return nil
}

// remove deletes a parent that setup created, in every hierarchy: besides the ones the
// shared code made, runc creates it in the other v1 hierarchies (blkio, cpuset, ...) and
// leaves it there.
func (p *parentCgroup) remove() error {
	if p.existed {
		return nil
	}
	err := sandbox.RemoveCgroup(p.path)
	if p.v2 {
		return err
	}
	entries, rerr := os.ReadDir(sandbox.CgroupRoot)
	if rerr != nil {
		return errors.Join(err, fmt.Errorf("list cgroup hierarchies: %w", rerr))
	}
	for _, e := range entries {
		// Best effort: a busy parent here means another backend shares it.
		if e.IsDir() {
			if rerr := os.Remove(filepath.Join(sandbox.CgroupRoot, e.Name(), p.path)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				errs := fmt.Errorf("remove parent cgroup %s in %s: %w", p.path, e.Name(), rerr)
				err = errors.Join(err, errs)
			}
		}
	}
	return err
}
