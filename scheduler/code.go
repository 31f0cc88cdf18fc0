package scheduler

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits of a deployment package, Lambda's.
const (
	MaxZipBytes      = 50 << 20  // direct upload
	MaxUnzippedBytes = 250 << 20 // unzipped, all files
	maxZipEntries    = 20000
)

// codeSha256 is the base64 SHA-256 of the package, Lambda's CodeSha256.
func codeSha256(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// uploadsDir (under StateDir) holds zips being uploaded.
const uploadsDir = "uploads"

// NewCodeUpload creates an empty file in the state directory for a zip streamed from a
// request (Code.ZipPath): the same filesystem as the code store, so storing it is a
// rename. The caller removes the file when it was not stored.
func (s *Scheduler) NewCodeUpload() (*os.File, error) {
	dir := filepath.Join(s.cfg.StateDir, uploadsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("code upload: %w", err)
	}
	return os.CreateTemp(dir, "code-*.zip")
}

func (c Code) hasZip() bool { return len(c.ZipFile) > 0 || c.ZipPath != "" }

// storeZip unpacks code's zip into dir and keeps the package as dir.zip (a ZipPath is
// moved there, so an upload is never held in memory). It returns Lambda's CodeSha256
// and the package size.
func storeZip(code Code, dir string) (sum string, size int64, err error) {
	var src io.ReaderAt
	if code.ZipPath == "" {
		src, size = bytes.NewReader(code.ZipFile), int64(len(code.ZipFile))
	} else {
		f, err := os.Open(code.ZipPath)
		if err != nil {
			return "", 0, fmt.Errorf("store code: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return "", 0, fmt.Errorf("store code: %w", err)
		}
		src, size = f, st.Size()
	}
	if err := extractZip(src, size, dir); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, size)); err != nil {
		return "", 0, fmt.Errorf("store code: %w", err)
	}
	if code.ZipPath == "" {
		err = os.WriteFile(dir+".zip", code.ZipFile, 0o644)
	} else if err = os.Rename(code.ZipPath, dir+".zip"); err == nil {
		err = os.Chmod(dir+".zip", 0o644)
	}
	if err != nil {
		return "", 0, fmt.Errorf("store code: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), size, nil
}

// extractZip unpacks the zip in src (size bytes) into dir (created, must not exist).
// Every write goes through an os.Root on dir, so nothing can land outside it, whatever
// the entry's path or the symlinks already unpacked; entry paths that try (absolute, "..")
// and symlinks whose target points out are refused with a message naming the entry.
// Symlinks are created last. Files are made world-readable because sandboxes run as an
// unprivileged uid.
func extractZip(src io.ReaderAt, size int64, dir string) error {
	if size > MaxZipBytes {
		return fmt.Errorf("%w: Code.ZipFile is %d bytes, more than %d", ErrCodeTooLarge, size, MaxZipBytes)
	}
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return paramErr("Code.ZipFile", "Code.ZipFile is not a valid zip archive: %v", err)
	}
	if len(zr.File) > maxZipEntries {
		return paramErr("Code.ZipFile", "Code.ZipFile has %d entries, more than %d", len(zr.File), maxZipEntries)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create code directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create code directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open code directory: %w", err)
	}
	defer root.Close()
	var links []*zip.File
	var total int64
	for _, f := range zr.File {
		rel, err := safeEntryPath(f.Name)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		mode := f.Mode()
		switch {
		case mode&os.ModeSymlink != 0:
			links = append(links, f)
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := root.MkdirAll(rel, 0o755); err != nil {
				return entryErr(f, err)
			}
		case mode.IsRegular():
			n, err := writeZipFile(root, f, rel, MaxUnzippedBytes-total)
			total += n
			if err != nil {
				return err
			}
		default:
			return paramErr("Code.ZipFile", "Code.ZipFile entry %q is a %v, only files, directories and symlinks are allowed", f.Name, mode.Type())
		}
	}
	for _, f := range links {
		if err := writeZipSymlink(root, f); err != nil {
			return err
		}
	}
	return nil
}

// entryErr reports an entry that could not be unpacked (os.Root refuses paths that
// escape, e.g. through a symlink unpacked earlier).
func entryErr(f *zip.File, err error) error {
	return paramErr("Code.ZipFile", "Code.ZipFile entry %q cannot be unpacked: %v", f.Name, err)
}

// safeEntryPath returns the entry's clean relative path or an error when it escapes.
func safeEntryPath(name string) (string, error) {
	if strings.Contains(name, `\`) || path.IsAbs(name) || filepath.IsAbs(name) {
		return "", paramErr("Code.ZipFile", "Code.ZipFile entry %q has an absolute or Windows path; use paths relative to the zip root", name)
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", paramErr("Code.ZipFile", "Code.ZipFile entry %q points outside the zip root (zip-slip)", name)
	}
	return filepath.FromSlash(clean), nil
}

func writeZipFile(root *os.Root, f *zip.File, rel string, budget int64) (int64, error) {
	if err := root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return 0, entryErr(f, err)
	}
	rc, err := f.Open()
	if err != nil {
		return 0, paramErr("Code.ZipFile", "Code.ZipFile entry %q cannot be read: %v", f.Name, err)
	}
	defer rc.Close()
	perm := f.Mode().Perm()&0o755 | 0o444
	out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, paramErr("Code.ZipFile", "Code.ZipFile entry %q cannot be written (duplicate entry?): %v", f.Name, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, paramErr("Code.ZipFile", "Code.ZipFile entry %q cannot be unzipped: %v", f.Name, err)
	}
	if n > budget {
		return n, fmt.Errorf("%w: unzipped code is more than %d bytes", ErrCodeTooLarge, MaxUnzippedBytes)
	}
	// OpenFile's perm is filtered by the umask; the sandbox uid must be able to read.
	return n, root.Chmod(rel, perm)
}

func writeZipSymlink(root *os.Root, f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return paramErr("Code.ZipFile", "Code.ZipFile entry %q cannot be read: %v", f.Name, err)
	}
	target, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return paramErr("Code.ZipFile", "Code.ZipFile symlink %q cannot be read: %v", f.Name, err)
	}
	rel, _ := safeEntryPath(f.Name)
	t := string(target)
	// The link must resolve inside the root, judged from the link's own directory: the
	// sandbox follows it at /var/task.
	resolved := path.Join(path.Dir(filepath.ToSlash(rel)), t)
	if path.IsAbs(t) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return paramErr("Code.ZipFile", "Code.ZipFile symlink %q -> %q points outside the zip root", f.Name, t)
	}
	// The lexical check assumes the link's directory is where its path says; under a
	// linked directory it is somewhere else, so such links are refused.
	if err := noSymlinkParents(root, rel); err != nil {
		return paramErr("Code.ZipFile", "Code.ZipFile symlink %q lies under another symlink (%v); only plain directories may hold symlinks", f.Name, err)
	}
	if err := root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return entryErr(f, err)
	}
	if err := root.Symlink(t, rel); err != nil {
		return paramErr("Code.ZipFile", "Code.ZipFile symlink %q cannot be created: %v", f.Name, err)
	}
	return nil
}

// noSymlinkParents fails when a directory on rel's way from the root is a symlink.
func noSymlinkParents(root *os.Root, rel string) error {
	p := ""
	for _, c := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
		if c == "." || c == "" {
			continue
		}
		p = filepath.Join(p, c)
		st, err := root.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink", p)
		}
	}
	return nil
}

// checkBootstrap verifies dir has the executable bootstrap a custom runtime runs. It is
// looked at through an os.Root: a bootstrap symlink may lead anywhere inside dir, never
// out of it.
func checkBootstrap(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("check bootstrap: %w", err)
	}
	defer root.Close()
	st, err := root.Stat("bootstrap")
	switch {
	case errors.Is(err, os.ErrNotExist):
		return paramErr("Code.ZipFile", "Code.ZipFile has no bootstrap file at its root: custom runtimes run /var/task/bootstrap")
	case err != nil && strings.Contains(err.Error(), "escapes"):
		return paramErr("Code.ZipFile", "Code.ZipFile's bootstrap links outside the zip root")
	case err != nil:
		return fmt.Errorf("check bootstrap: %w", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return paramErr("Code.ZipFile", "Code.ZipFile's bootstrap is not an executable file (mode %v): chmod 755 bootstrap before zipping", st.Mode())
	}
	return nil
}
