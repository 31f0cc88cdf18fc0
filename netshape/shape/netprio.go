package shape

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNetPrioUnavailable means cgroup v1 net_prio cannot be used on this host
// (cgroup v2 only, controller not mounted, or not compiled in).
var ErrNetPrioUnavailable = errors.New("cgroup v1 net_prio is not available")

const ifPrioMapFile = "net_prio.ifpriomap"

// SetIfPrioMap makes sockets of processes in a net_prio cgroup send on
// device with skb priority prio: `echo "DEV PRIO" > CG/net_prio.ifpriomap`.
// With prio = an HTB classid (major<<16|minor) HTB puts the packets straight
// into that class, no filter needed. Only devices of the initial netns can be
// mapped (the kernel limits ifpriomap to init_net), so this works for
// sandboxes that share the host netns (network mode "shared").
func SetIfPrioMap(cgroupPath, device string, prio uint32) error {
	file, err := ifPrioMapPath(cgroupPath)
	if err != nil {
		return err
	}
	err = os.WriteFile(file, []byte(fmt.Sprintf("%s %d\n", device, prio)), 0o644)
	switch {
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("set ifpriomap of %s: device %q does not exist in the initial network namespace (net_prio maps only host-netns devices; a veth moved into a netns loses its map): %w", cgroupPath, device, err)
	case err != nil:
		return fmt.Errorf("set ifpriomap of %s for %s: %w", cgroupPath, device, err)
	}
	return nil
}

// IfPrioMap reads a cgroup's ifpriomap (device → priority).
func IfPrioMap(cgroupPath string) (map[string]uint32, error) {
	file, err := ifPrioMapPath(cgroupPath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read ifpriomap: %w", err)
	}
	defer f.Close()
	out := map[string]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(fs[1], 10, 32); err == nil {
			out[fs[0]] = uint32(v)
		}
	}
	return out, sc.Err()
}

// ifPrioMapPath validates that cgroupPath is a cgroup v1 directory with the
// net_prio controller and returns its ifpriomap file.
func ifPrioMapPath(cgroupPath string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupPath, &st); err != nil {
		return "", fmt.Errorf("net_prio cgroup %s: %w", cgroupPath, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "", fmt.Errorf("%w: %s is a cgroup v2 directory and cgroup v2 has no net_prio: use network mode isolated with an IP-classified policy (fixed, equal, proportional, priority) or a cgroup v1 host", ErrNetPrioUnavailable, cgroupPath)
	}
	file := filepath.Join(cgroupPath, ifPrioMapFile)
	if _, err := os.Stat(file); err != nil {
		return "", fmt.Errorf("%w: %s has no %s: mount the controller (mount -t cgroup -o net_prio faaslab /sys/fs/cgroup/net_prio) and create the sandbox cgroup under it", ErrNetPrioUnavailable, cgroupPath, ifPrioMapFile)
	}
	return file, nil
}

// netPrioMountSource names faaslab's own mounts of net_prio in /proc/self/mountinfo.
const netPrioMountSource = "faaslab"

// EnsureNetPrioMounted returns a mount point of the cgroup v1 net_prio
// hierarchy, mounting it at dir when it is mounted nowhere. mounted tells the
// caller it must unmount dir (UnmountNetPrio) when done.
func EnsureNetPrioMounted(dir string) (mountPoint string, mounted bool, err error) {
	np := detectNetPrio()
	if err := np.usable(); err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrNetPrioUnavailable, err)
	}
	if np.MountPoint != "" {
		return np.MountPoint, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("create net_prio mount point %s: %w", dir, err)
	}
	// `mount -t cgroup -o net_prio faaslab DIR`
	if err := unix.Mount(netPrioMountSource, dir, "cgroup", 0, "net_prio"); err != nil {
		return "", false, fmt.Errorf("mount net_prio at %s: %w", dir, err)
	}
	return dir, true, nil
}

// UnmountNetPrio undoes EnsureNetPrioMounted's mount (child cgroups must be
// removed first, or the hierarchy lives on unmounted).
func UnmountNetPrio(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		return fmt.Errorf("unmount net_prio at %s: %w", dir, err)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
