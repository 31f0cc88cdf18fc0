package dataset

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Load places every regular file under dir into bucket (key = path relative to dir),
// by hard link where possible, and returns how many files and bytes it placed.
func Load(buckets Buckets, dir, bucket string) (files int, bytes int64, err error) {
	bdir, err := buckets.BucketDir(bucket)
	if err != nil {
		return 0, 0, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return 0, 0, err
	}
	if !st.IsDir() {
		return 0, 0, fmt.Errorf("%s is not a directory", dir)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := linkOrCopy(path, filepath.Join(bdir, rel)); err != nil {
			return fmt.Errorf("load %s: %w", path, err)
		}
		files++
		bytes += info.Size()
		return nil
	})
	return files, bytes, err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
