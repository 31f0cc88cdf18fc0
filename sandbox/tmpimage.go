package sandbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/faaslab/faaslab/sandbox/loopdev"
)

// DefaultTmpDir holds the sandboxes' /tmp images, one subdirectory per cgroup parent (so
// per daemon and backend, see TmpDirFor). It must be on disk: an image in memory would be
// memory.
const DefaultTmpDir = "/var/lib/faaslab-sandbox-tmp"

// TmpDirFor is the default image directory of the sandboxes under cgroup parent.
func TmpDirFor(cgroupParent string) string {
	return filepath.Join(DefaultTmpDir, strings.Trim(strings.ReplaceAll(cgroupParent, "/", "-"), "-"))
}

// ErrNoTmpImages: this host cannot back /tmp with a disk image (no mkfs.ext4, no loop
// devices, or the image directory is itself in memory); backends then use a tmpfs.
var ErrNoTmpImages = errors.New("cannot back /tmp with a disk image")

// TmpImages makes the per-sandbox ext4 images that back /tmp (Lambda's ephemeral
// storage) on the host's disk, so that filling /tmp does not count against a function's
// memory. An image is a sparse file: it takes disk only for what is written, is bounded
// by its size, and is removed with its sandbox. One image per size is formatted once
// (mkfs.ext4, ~30 ms) as a template; sandboxes get a sparse copy of it (its ~200 KB of
// metadata), which keeps mkfs off the cold start path.
type TmpImages struct {
	dir string

	mu        sync.Mutex
	templates map[int64]string
}

// NewTmpImages prepares dir (created 0700) for images. ErrNoTmpImages (wrapped) when the
// host cannot use them.
func NewTmpImages(dir string) (*TmpImages, error) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		return nil, fmt.Errorf("%w: mkfs.ext4 not found (apt-get install e2fsprogs)", ErrNoTmpImages)
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return nil, fmt.Errorf("%w: no /dev/loop-control (modprobe loop)", ErrNoTmpImages)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, err
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		return nil, fmt.Errorf("%w: %s is in memory (tmpfs), an image there would be memory too", ErrNoTmpImages, dir)
	}
	return &TmpImages{dir: dir, templates: map[int64]string{}}, nil
}

// OpenTmpImages is NewTmpImages for a backend: on a host that cannot use images it warns
// that what's /tmp (e.g. "sandbox") is a tmpfs instead and returns nil, nil.
func OpenTmpImages(dir string, log *slog.Logger, what string) (*TmpImages, error) {
	t, err := NewTmpImages(dir)
	if errors.Is(err, ErrNoTmpImages) {
		log.Warn(what+" /tmp is a tmpfs, charged to the function's memory", "reason", err)
		return nil, nil
	}
	return t, err
}

// Create makes the image of sandbox id, size bytes (rounded up to MiB), and returns its
// path.
func (t *TmpImages) Create(id string, size int64) (string, error) {
	size = (size + 1<<20 - 1) &^ (1<<20 - 1)
	tmpl, err := t.template(size)
	if err != nil {
		return "", err
	}
	path := t.path(id)
	if err := sparseCopy(tmpl, path, size); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("/tmp image of %s: %w", id, err)
	}
	return path, nil
}

// Remove deletes the image of sandbox id (its loop device, if still attached, keeps the
// data alive until its last mount is gone). A missing image is not an error.
func (t *TmpImages) Remove(id string) error {
	if err := os.Remove(t.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Mount makes the image of sandbox id (as Create) and mounts it on the host, through a
// loop device, at a directory of its own that it returns, for a container engine to
// bind-mount as the sandbox's /tmp. Unmount undoes it.
func (t *TmpImages) Mount(id string, size int64) (dir string, err error) {
	img, err := t.Create(id, size)
	if err != nil {
		return "", err
	}
	dir = t.mountPath(id)
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Unmount(id))
		}
	}()
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("/tmp of %s: %w", id, err)
	}
	dev, err := loopdev.Attach(img)
	if err != nil {
		return "", err
	}
	// Closed only once mounted: autoclear would free a device nobody holds open.
	defer dev.Close()
	if err := unix.Mount(dev.Name(), dir, "ext4", unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return "", fmt.Errorf("mount /tmp image of %s on %s: %w", id, dir, err)
	}
	// The file system's root becomes the sandbox's /tmp: writable by any uid, sticky
	// (os.ModeSticky: os.Chmod drops a raw 0o1000 bit).
	if err := os.Chmod(dir, os.ModeSticky|0o777); err != nil {
		return "", err
	}
	return dir, nil
}

// Unmount undoes Mount: unmounts the directory (the loop device then detaches itself once
// no container's mount namespace holds the file system), removes it and the image. What
// is already gone is not an error.
func (t *TmpImages) Unmount(id string) error {
	dir := t.mountPath(id)
	var errs []error
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		errs = append(errs, fmt.Errorf("unmount %s: %w", dir, err))
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(append(errs, t.Remove(id))...)
}

// Reap removes the images (and their host mounts) of sandboxes not in live: what a
// crashed daemon left. After Close there is nothing to reap.
func (t *TmpImages) Reap(live func(id string) bool) error {
	ents, err := os.ReadDir(t.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".mnt"); ok && ValidID(id) && !live(id) {
			errs = append(errs, t.Unmount(id))
		}
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".img")
		if ok && ValidID(id) && !live(id) {
			errs = append(errs, t.Remove(id))
		}
	}
	return errors.Join(errs...)
}

// Close removes the templates and the directory (which must hold no image any more:
// call it after every sandbox is stopped and Reap ran).
func (t *TmpImages) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	clear(t.templates)
	// Every template of the directory, also those a crashed daemon made.
	tmpls, _ := filepath.Glob(filepath.Join(t.dir, "template-*"))
	for _, p := range tmpls {
		errs = append(errs, os.Remove(p))
	}
	if err := os.Remove(t.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (t *TmpImages) path(id string) string      { return filepath.Join(t.dir, id+".img") }
func (t *TmpImages) mountPath(id string) string { return filepath.Join(t.dir, id+".mnt") }

// template returns the formatted template image of this size, making it once.
func (t *TmpImages) template(size int64) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.templates[size]; ok {
		return p, nil
	}
	p := filepath.Join(t.dir, "template-"+strconv.FormatInt(size>>20, 10)+"m")
	os.Remove(p)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return "", err
	}
	if err := os.Truncate(p, size); err != nil {
		return "", err
	}
	// No journal (the data dies with the sandbox), no reserved blocks (the function gets
	// the whole size), one inode per 64 KiB, no discard of the (sparse) file.
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal,^resize_inode",
		"-E", "nodiscard,lazy_itable_init=1", "-i", "65536", p).CombinedOutput()
	if err != nil {
		os.Remove(p)
		return "", fmt.Errorf("mkfs.ext4 %s: %w: %s", p, err, strings.TrimSpace(string(out)))
	}
	t.templates[size] = p
	return p, nil
}

// sparseCopy copies src's data extents (SEEK_DATA/SEEK_HOLE) into a new file dst of size
// bytes, leaving the holes as holes.
func sparseCopy(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	fd := int(in.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO { // no data past off
			break
		} else if err != nil {
			out.Close()
			return err
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			out.Close()
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data)); err != nil {
			out.Close()
			return err
		}
		off = hole
	}
	return out.Close()
}
