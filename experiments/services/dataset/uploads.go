package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// UploadPrefix is where experiments' put workloads write in the data bucket:
// UploadPrefix/<run-id>/<function>/<item>.
const UploadPrefix = "experiments"

// ErrNoBuckets: the cache places nothing (no embedded store), so there is nothing to delete.
var ErrNoBuckets = errors.New("no embedded object store: uploads are not on this host's disk")

// runIDPattern is what a run id may be: one path element, never "." or "..".
var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

// DeleteUploads removes everything run's put workloads wrote to the data bucket
// (UploadPrefix/<run>/). Uploaded objects are measured, not kept: at 100 × 10 MB per
// point a full reproduction would otherwise leave ~16 GB behind on the host's disk.
func (c *Cache) DeleteUploads(run string) error {
	if !runIDPattern.MatchString(run) || run == ".." {
		return fmt.Errorf("run %q: want a run id such as 20261130-075917-9595", run)
	}
	if c.buckets == nil {
		return ErrNoBuckets
	}
	bdir, err := c.buckets.BucketDir(DefaultBucket)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoBuckets, err)
	}
	return os.RemoveAll(filepath.Join(bdir, UploadPrefix, run))
}
