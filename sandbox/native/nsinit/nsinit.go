// Package nsinit is the first code that runs inside a native sandbox. The backend starts a
// binary (the faaslab-runtime bootstrap or the faaslab binary itself) with argv[0] ==
// ArgV0 in fresh mount/pid/uts/ipc/net namespaces; that binary calls MaybeRun first thing,
// which builds the sandbox's root filesystem, waits for the backend's go-ahead (the
// network is plumbed from outside meanwhile), drops every privilege and execs the
// function's command.
//
// It imports nothing heavy on purpose: it runs on every cold start.
package nsinit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	lambda "github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox/loopdev"

	"golang.org/x/sys/unix"
)

// ArgV0 marks a process as a sandbox init.
const ArgV0 = "faaslab-sandbox-init"

// File descriptors the backend hands to the init.
const (
	SpecFD = 3 // JSON Config, closed by the backend after writing
	GateFD = 4 // one byte = go; EOF = abort
)

// Mount is a bind mount into the sandbox.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

// Config is what the backend tells the init.
type Config struct {
	Hostname string   `json:"hostname"`
	Command  []string `json:"command"`
	Env      []string `json:"env"`
	Mounts   []Mount  `json:"mounts"`
	TmpBytes int64    `json:"tmp_bytes"`
	// TmpImage, if set, is an ext4 image file on the host's disk mounted (through a loop
	// device) at /tmp instead of a tmpfs: its pages are disk, not the sandbox's memory.
	// The loop device clears itself when the sandbox's mount namespace goes.
	TmpImage string `json:"tmp_image,omitempty"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	// RootDir is an empty host directory the init mounts its new root on (in its own
	// mount namespace, so the host never sees it).
	RootDir string `json:"root_dir"`
	// InProcess: Command[0] is this very binary, so MaybeRun returns into main with
	// os.Args and the environment set as an exec would have, instead of exec'ing again.
	// Needs a binary without cgo (privileges are then dropped on every thread at once);
	// otherwise the init execs as usual.
	InProcess bool `json:"in_process"`
}

// hostDirs are bound read-only into the sandbox (Lambda: the host root read-only).
// /var, /tmp, /run, /home, /root, /dev, /proc and /sys are the sandbox's own.
var hostDirs = []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "opt", "srv"}

// masked files are covered with /dev/null.
var masked = []string{"/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"}

// MaybeRun runs the sandbox init and never returns when this process is one; otherwise it
// returns at once. Call it first in main (or in an init func).
func MaybeRun() {
	if len(os.Args) == 0 || os.Args[0] != ArgV0 {
		return
	}
	runtime.LockOSThread() // capability and no_new_privs changes are per thread
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "faaslab sandbox init: %v\n", err)
		os.Exit(126)
	}
	runtime.UnlockOSThread() // continuing in-process as the command
}

// run returns nil only when the init continues in-process as the command; otherwise it
// execs or fails.
func run() error {
	specFile := os.NewFile(SpecFD, "spec")
	var cfg Config
	if err := json.NewDecoder(specFile).Decode(&cfg); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	specFile.Close()
	if len(cfg.Command) == 0 {
		return fmt.Errorf("empty command")
	}
	if err := buildRoot(cfg); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	// Privileges go before the gate: the held init waits unprivileged and Start's path
	// stays short. In-process continuation needs them dropped on every thread.
	inProcess := cfg.InProcess && allThreadsSupported()
	if err := dropPrivileges(cfg.UID, cfg.GID, inProcess); err != nil {
		return err
	}
	gate := os.NewFile(GateFD, "gate")
	var b [1]byte
	if n, _ := gate.Read(b[:]); n != 1 {
		os.Exit(0) // the backend gave up on this sandbox
	}
	gate.Close()
	// Last step before the command: the filter also covers what the init does from here
	// on (chdir, exec), and all of it is allowed.
	if err := installSeccomp(); err != nil {
		return err
	}
	if st, err := os.Stat(lambda.TaskRoot); err == nil && st.IsDir() {
		os.Chdir(lambda.TaskRoot)
	}
	if inProcess {
		os.Clearenv()
		for _, kv := range cfg.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				os.Setenv(k, v)
			}
		}
		os.Args = cfg.Command
		return nil
	}
	path, err := lookPath(cfg.Command[0], cfg.Env)
	if err != nil {
		return err
	}
	return syscall.Exec(path, cfg.Command, cfg.Env)
}

func mount(src, dst, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(src, dst, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (%s): %w", src, dst, fstype, err)
	}
	return nil
}

// bindReadOnly binds src at dst read-only, submounts included (mount_setattr with
// AT_RECURSIVE, kernel 5.12+; older kernels get the top mount only).
func bindReadOnly(src, dst string) error {
	if err := mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, attr); err == nil {
		return nil
	}
	return mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

// buildRoot makes a tmpfs root holding read-only binds of the host's system directories,
// fresh /proc, /sys, /dev and /tmp, the spec's mounts, masks, then pivots into it.
func buildRoot(cfg Config) error {
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	root := cfg.RootDir
	if err := mount("faaslab-root", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=4m"); err != nil {
		return err
	}
	spliced := splicedDirs(cfg.Mounts)
	for _, d := range hostDirs {
		if err := addHostDir(root, d, spliced[d]); err != nil {
			return err
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "var", "var/task", "var/runtime", "run", "home", "root", ".oldroot"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := mount("sysfs", filepath.Join(root, "sys"), "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := mountTmp(filepath.Join(root, "tmp"), cfg); err != nil {
		return err
	}
	if err := buildDev(filepath.Join(root, "dev")); err != nil {
		return err
	}
	for _, m := range cfg.Mounts {
		if err := addMount(root, m); err != nil {
			return err
		}
	}
	for _, f := range masked {
		p := filepath.Join(root, f)
		if _, err := os.Lstat(p); err == nil {
			if err := mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
				return err
			}
		}
	}
	return pivot(root)
}

// splicedDirs are host directories that must be rebuilt entry by entry because a mount
// target inside them does not exist on the host (a read-only bind cannot grow it).
func splicedDirs(mounts []Mount) map[string]bool {
	out := map[string]bool{}
	for _, m := range mounts {
		top := strings.SplitN(strings.TrimPrefix(filepath.Clean(m.Target), "/"), "/", 2)[0]
		if _, err := os.Stat(m.Target); err != nil {
			out[top] = true
		}
	}
	return out
}

func addHostDir(root, name string, splice bool) error {
	src := "/" + name
	st, err := os.Lstat(src)
	if err != nil {
		return nil // absent on this host
	}
	dst := filepath.Join(root, name)
	if st.Mode()&os.ModeSymlink != 0 { // merged /usr: /bin -> usr/bin
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	if !splice {
		return bindReadOnly(src, dst)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := addEntry(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// addEntry binds one host file or directory read-only at dst.
func addEntry(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(t, dst)
	case st.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
	default:
		f, err := os.Create(dst)
		if err != nil {
			return err
		}
		f.Close()
	}
	return bindReadOnly(src, dst)
}

func addMount(root string, m Mount) error {
	st, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("mount source %s: %w", m.Source, err)
	}
	dst := filepath.Join(root, m.Target)
	if _, err := os.Lstat(dst); err != nil {
		if st.IsDir() {
			err = os.MkdirAll(dst, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			var f *os.File
			if f, err = os.Create(dst); err == nil {
				f.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("mount target %s: %w", m.Target, err)
		}
	}
	if m.ReadOnly {
		return bindReadOnly(m.Source, dst)
	}
	return mount(m.Source, dst, "", unix.MS_BIND|unix.MS_REC, "")
}

// mountTmp mounts the sandbox's /tmp: the ext4 image cfg.TmpImage through a loop device
// when set, else a tmpfs of cfg.TmpBytes (charged to the sandbox's memory).
func mountTmp(dst string, cfg Config) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	if cfg.TmpImage == "" {
		// The backend sends the resolved size (sandbox.Spec.TmpSize), never 0.
		return mount("tmpfs", dst, "tmpfs", flags, fmt.Sprintf("mode=1777,size=%d", cfg.TmpBytes))
	}
	dev, err := loopdev.Attach(cfg.TmpImage)
	if err != nil {
		return err
	}
	// Closed only once mounted: autoclear would free a device nobody holds open.
	defer dev.Close()
	if err := mount(dev.Name(), dst, "ext4", flags, ""); err != nil {
		return err
	}
	return os.Chmod(dst, os.ModeSticky|0o777) // os.FileMode: a raw 0o1000 bit would be dropped
}

func buildDev(dev string) error {
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return err
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := filepath.Join(dev, d)
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		f.Close()
		if err := mount("/dev/"+d, p, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for link, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, link)); err != nil {
			return err
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return err
	}
	return mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=64m")
}

func pivot(root string) error {
	old := filepath.Join(root, ".oldroot")
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	os.Remove("/.oldroot")
	// The root tmpfs itself becomes read-only: only /tmp (and /dev/shm) are writable.
	return mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

// allThreadsSupported reports whether syscall.AllThreadsSyscall works (not with cgo).
func allThreadsSupported() bool {
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_GET_NO_NEW_PRIVS, 0, 0)
	return errno != syscall.ENOTSUP
}

// prctl runs prctl on this thread, or on every thread of the process when allThreads.
func prctl(allThreads bool, option, arg uintptr) error {
	if !allThreads {
		return unix.Prctl(int(option), arg, 0, 0, 0)
	}
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_PRCTL, option, arg, 0); errno != 0 {
		return errno
	}
	return nil
}

// dropPrivileges leaves the command with an unprivileged uid, no capabilities at all (the
// bounding set too) and no_new_privs, so nothing it execs can regain privilege. With
// allThreads every thread of the process is changed (in-process continuation); otherwise
// only this one, which is the one that execs.
func dropPrivileges(uid, gid int, allThreads bool) error {
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if err := prctl(allThreads, unix.PR_CAPBSET_DROP, uintptr(c)); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	if err := prctl(allThreads, unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	return nil
}

// lookPath resolves a bare command name on the sandbox's PATH.
func lookPath(cmd string, env []string) (string, error) {
	if strings.Contains(cmd, "/") {
		return cmd, nil
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, cmd)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found on PATH %s", cmd, path)
}
