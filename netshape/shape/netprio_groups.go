package shape

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NetPrioGroups keeps one cgroup v1 net_prio cgroup per sandbox under
// <net_prio hierarchy>/<prefix>, for network mode "shared": each sandbox's processes sit in
// their cgroup, whose ifpriomap maps the uplink device to the sandbox's HTB class.
type NetPrioGroups struct {
	log      *slog.Logger
	hier     string // root of the net_prio hierarchy (mount point)
	root     string // hier/prefix: parent of every sandbox's cgroup
	mountDir string // a faaslab mount of net_prio (unmounted at Close if empty), or ""
}

// OpenNetPrioGroups mounts net_prio (unless mounted somewhere, then it uses that mount),
// removes what a crashed daemon of this prefix left and creates the parent cgroup.
func OpenNetPrioGroups(prefix string, logger *slog.Logger) (*NetPrioGroups, error) {
	if _, _, err := EnsureNetPrioMounted(netPrioMountDir(prefix)); err != nil {
		return nil, err
	}
	g := newNetPrioGroups(prefix, detectNetPrio(), logger)
	if err := g.reap(); err != nil {
		g.Close()
		return nil, err
	}
	if err := os.Mkdir(g.root, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		g.Close()
		return nil, fmt.Errorf("create net_prio cgroup %s: %w", g.root, err)
	}
	return g, nil
}

// ReapNetPrioGroups is `faaslab cleanup`'s share of OpenNetPrioGroups: it removes what a
// crashed daemon of this prefix left (the sandbox cgroups, their parent and its own mount
// of net_prio). It mounts nothing: where net_prio is mounted nowhere, no cgroup of ours
// can be left.
func ReapNetPrioGroups(prefix string, logger *slog.Logger) error {
	np := detectNetPrio()
	if np.usable() != nil || np.MountPoint == "" {
		return nil
	}
	return newNetPrioGroups(prefix, np, logger).Close()
}

// newNetPrioGroups is the groups of prefix in the net_prio hierarchy np found mounted.
func newNetPrioGroups(prefix string, np NetPrio, logger *slog.Logger) *NetPrioGroups {
	g := &NetPrioGroups{log: logger, hier: np.MountPoint, root: filepath.Join(np.MountPoint, prefix)}
	if np.FaaslabMount {
		// Ours, or another daemon's, or one a crashed daemon left: unmount at Close if empty.
		g.mountDir = np.MountPoint
	}
	return g
}

// netPrioMountDir is where a daemon of prefix mounts net_prio when no one has.
func netPrioMountDir(prefix string) string { return filepath.Join("/run", prefix+"-netprio") }

// Root is the parent cgroup of every sandbox's.
func (g *NetPrioGroups) Root() string { return g.root }

// Add creates the sandbox's cgroup and moves process pid (the held sandbox init) into it,
// so every socket the function opens is created there. On error nothing is left.
func (g *NetPrioGroups) Add(sandboxID string, pid int) (cgroupPath string, err error) {
	cg := filepath.Join(g.root, sandboxID)
	if err := os.Mkdir(cg, 0o755); err != nil {
		return "", fmt.Errorf("create net_prio cgroup of %s: %w", sandboxID, err)
	}
	if err := movePID(cg, pid); err != nil {
		os.Remove(cg)
		return "", fmt.Errorf("move sandbox %s into its net_prio cgroup: %w", sandboxID, err)
	}
	return cg, nil
}

// Remove removes a sandbox's cgroup. Idempotent.
func (g *NetPrioGroups) Remove(sandboxID string) error {
	return g.removeCgroup(filepath.Join(g.root, sandboxID))
}

// reap removes the sandbox cgroups a crashed daemon with this prefix left.
func (g *NetPrioGroups) reap() error {
	entries, err := os.ReadDir(g.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read net_prio cgroup %s: %w", g.root, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			g.log.Info("reaping leftover net_prio cgroup", "cgroup", filepath.Join(g.root, e.Name()))
			errs = append(errs, g.removeCgroup(filepath.Join(g.root, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes a net_prio cgroup. Processes still in it (a sandbox that did not
// die in time) go back to the hierarchy's root first, or rmdir fails with EBUSY.
func (g *NetPrioGroups) removeCgroup(cg string) error {
	var err error
	for range 20 {
		if err = os.Remove(cg); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if data, rerr := os.ReadFile(filepath.Join(cg, "cgroup.procs")); rerr == nil {
			for _, f := range strings.Fields(string(data)) {
				if pid, perr := strconv.Atoi(f); perr == nil {
					movePID(g.hier, pid)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("remove net_prio cgroup %s: %w", cg, err)
}

// Close removes every sandbox cgroup left and the parent, and unmounts net_prio if a
// faaslab daemon mounted it and no other daemon's cgroups are in it (a daemon of another
// prefix uses the mount it finds).
func (g *NetPrioGroups) Close() error {
	errs := []error{g.reap(), g.removeCgroup(g.root)}
	if g.mountDir != "" {
		if others := childCgroups(g.mountDir); len(others) > 0 {
			g.log.Info("net_prio left mounted: other daemons' cgroups are in it", "mount", g.mountDir, "cgroups", others)
		} else {
			errs = append(errs, UnmountNetPrio(g.mountDir))
		}
	}
	return errors.Join(errs...)
}

// childCgroups lists the cgroups directly under dir.
func childCgroups(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// movePID moves pid (the whole process) into cgroup dir: `echo PID > DIR/cgroup.procs`.
func movePID(dir string, pid int) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}
