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

// ErrNoBuckets: the host has no embedded object store, so its buckets are not on this
// host's disk: data sets cannot be placed there and uploads cannot be deleted from it.
var ErrNoBuckets = errors.New("no embedded object store")

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
		return fmt.Errorf("%w: uploads are not on this host's disk", ErrNoBuckets)
	}
	bdir, err := c.bucketDir(DefaultBucket)
	if err != nil {
		return fmt.Errorf("%w (uploads are not on this host's disk)", err)
	}
	return os.RemoveAll(filepath.Join(bdir, UploadPrefix, run))
}

// bucketDir is the directory of bucket in the embedded store; any failure is ErrNoBuckets.
// The cache must have buckets.
func (c *Cache) bucketDir(bucket string) (string, error) {
	bdir, err := c.buckets.BucketDir(bucket)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoBuckets, err)
	}
	return bdir, nil
}
