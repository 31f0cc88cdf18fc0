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
	"syscall"
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
// Entries that would land outside dir (zip-slip: absolute paths, "..", or symlinks
// pointing out) are rejected. Symlinks are created last so that no regular file is ever
// written through one. Files are made world-readable because sandboxes run as an
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
			if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
				return fmt.Errorf("unzip %s: %w", f.Name, err)
			}
		case mode.IsRegular():
			n, err := writeZipFile(f, filepath.Join(dir, rel), MaxUnzippedBytes-total)
			total += n
			if err != nil {
				return err
			}
		default:
			return paramErr("Code.ZipFile", "Code.ZipFile entry %q is a %v, only files, directories and symlinks are allowed", f.Name, mode.Type())
		}
	}
	for _, f := range links {
		if err := writeZipSymlink(f, dir); err != nil {
			return err
		}
	}
	return nil
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

func writeZipFile(f *zip.File, dst string, budget int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("unzip %s: %w", f.Name, err)
	}
	rc, err := f.Open()
	if err != nil {
		return 0, paramErr("Code.ZipFile", "Code.ZipFile entry %q cannot be read: %v", f.Name, err)
	}
	defer rc.Close()
	perm := f.Mode().Perm()&0o755 | 0o444
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perm)
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
	return n, os.Chmod(dst, perm)
}

func writeZipSymlink(f *zip.File, root string) error {
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
	// The link must resolve inside the root, judged lexically from the link's own directory.
	resolved := path.Join(path.Dir(filepath.ToSlash(rel)), t)
	if path.IsAbs(t) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return paramErr("Code.ZipFile", "Code.ZipFile symlink %q -> %q points outside the zip root", f.Name, t)
	}
	// A link inside a linked directory could be resolved relative to somewhere else than
	// the lexical check assumed; refuse it before MkdirAll could follow that directory.
	if err := noSymlinkParents(root, rel); err != nil {
		return paramErr("Code.ZipFile", "Code.ZipFile symlink %q lies under another symlink (%v); only plain directories may hold symlinks", f.Name, err)
	}
	dst := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("unzip %s: %w", f.Name, err)
	}
	if err := os.Symlink(t, dst); err != nil {
		return paramErr("Code.ZipFile", "Code.ZipFile symlink %q cannot be created: %v", f.Name, err)
	}
	return nil
}

// noSymlinkParents fails when a directory on rel's way from root is a symlink.
func noSymlinkParents(root, rel string) error {
	p := root
	for _, c := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
		if c == "." || c == "" {
			continue
		}
		p = filepath.Join(p, c)
		st, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink", c)
		}
	}
	return nil
}

// checkBootstrap verifies dir has the executable bootstrap a custom runtime runs.
func checkBootstrap(dir string) error {
	p := filepath.Join(dir, "bootstrap")
	// bootstrap may be a symlink; follow it only when it stays inside dir.
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		realDir, derr := filepath.EvalSymlinks(dir)
		if derr != nil {
			return fmt.Errorf("check bootstrap: %w", derr)
		}
		if !strings.HasPrefix(real, realDir+string(filepath.Separator)) {
			return paramErr("Code.ZipFile", "Code.ZipFile's bootstrap links outside the zip root")
		}
	}
	var st os.FileInfo
	if err == nil {
		st, err = os.Stat(real)
	}
	if errors.Is(err, os.ErrNotExist) {
		return paramErr("Code.ZipFile", "Code.ZipFile has no bootstrap file at its root: custom runtimes run /var/task/bootstrap")
	}
	if err != nil {
		return fmt.Errorf("check bootstrap: %w", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return paramErr("Code.ZipFile", "Code.ZipFile's bootstrap is not an executable file (mode %v): chmod 755 bootstrap before zipping", st.Mode())
	}
	return nil
}
