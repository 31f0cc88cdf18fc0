package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultBucket receives the generated sets.
const DefaultBucket = "faaslab-data"

// MaxCount bounds one set's object count (200 × 200 MB = 40 GB).
const MaxCount = 1000

// ErrNoSpace: the disk lacks room for the data asked for; the message says how much.
var ErrNoSpace = errors.New("not enough free disk space")

// Manifest is what has been generated (GET /faaslab/v1/data).
type Manifest struct {
	Bucket string        `json:"bucket"`
	Sets   []SetManifest `json:"sets"`
}

// SetManifest lists one set's objects.
type SetManifest struct {
	Name        string   `json:"name"`
	ObjectBytes int64    `json:"object_bytes"`
	Objects     []Object `json:"objects"`
}

// Object is one generated object.
type Object struct {
	Key     string `json:"key"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
	Records int64  `json:"records"`
}

// Buckets is where objects are placed: the embedded store's bucket directories.
type Buckets interface {
	BucketDir(bucket string) (string, error)
}

// Cache is the generated data under Dir (Dir/SET/part-NNNNN.txt, Dir/manifest.json).
type Cache struct {
	dir     string
	buckets Buckets
	mu      sync.Mutex // one generation at a time; guards the manifest file
}

// NewCache uses dir as the cache and places objects into buckets (nil: cache only).
func NewCache(dir string, buckets Buckets) *Cache { return &Cache{dir: dir, buckets: buckets} }

func (c *Cache) manifestPath() string { return filepath.Join(c.dir, "manifest.json") }

// Manifest reads the manifest (empty when nothing was generated).
func (c *Cache) Manifest() (Manifest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read()
}

func (c *Cache) read() (Manifest, error) {
	m := Manifest{Bucket: DefaultBucket, Sets: []SetManifest{}}
	b, err := os.ReadFile(c.manifestPath())
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("manifest %s: %w", c.manifestPath(), err)
	}
	return m, nil
}

func (c *Cache) write(m Manifest) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	tmp := c.manifestPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.manifestPath())
}

// Ensure makes the first count objects of set exist in the cache (generating the missing
// ones after checking free space) and placed in the bucket; it returns the set's manifest.
// A cache with buckets but no bucket directory (no embedded store) is ErrNoBuckets before
// anything is generated.
func (c *Cache) Ensure(name string, count int) (SetManifest, error) {
	set, err := LookupSet(name)
	if err != nil {
		return SetManifest{}, err
	}
	if count == 0 {
		count = set.DefaultCount
	}
	if count < 1 || count > MaxCount {
		return SetManifest{}, fmt.Errorf("count %d: want 1-%d objects", count, MaxCount)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.read()
	if err != nil {
		return SetManifest{}, err
	}
	i := slices.IndexFunc(m.Sets, func(s SetManifest) bool { return s.Name == name })
	if i < 0 {
		m.Sets = append(m.Sets, SetManifest{Name: name, ObjectBytes: set.ObjectBytes, Objects: []Object{}})
		i = len(m.Sets) - 1
	}
	bdir := ""
	if c.buckets != nil {
		if bdir, err = c.bucketDir(m.Bucket); err != nil {
			return SetManifest{}, fmt.Errorf("%w: data set %s cannot be placed in bucket %s", err, name, m.Bucket)
		}
	}
	sm := &m.Sets[i]
	setDir := filepath.Join(c.dir, name)
	if err := os.MkdirAll(setDir, 0o755); err != nil {
		return SetManifest{}, err
	}
	if missing := count - len(sm.Objects); missing > 0 {
		if err := checkFree(c.dir, int64(missing)*set.ObjectBytes); err != nil {
			return SetManifest{}, err
		}
	}
	for idx := len(sm.Objects); idx < count; idx++ {
		obj, err := generateObject(c.dir, set, idx)
		if err != nil {
			return SetManifest{}, err
		}
		sm.Objects = append(sm.Objects, obj)
		if err := c.write(m); err != nil { // progress survives an interruption
			return SetManifest{}, err
		}
	}
	if err := c.place(bdir, m.Bucket, sm.Objects[:count]); err != nil {
		return SetManifest{}, err
	}
	out := *sm
	out.Objects = slices.Clone(sm.Objects[:count])
	return out, nil
}

func generateObject(dir string, set Set, idx int) (Object, error) {
	key := Key(set.Name, idx)
	path := filepath.Join(dir, key)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return Object{}, err
	}
	sum, records, err := Generate(f, set.ObjectBytes, seedFor(set.Name, idx))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return Object{}, fmt.Errorf("generate %s: %w", key, err)
	}
	return Object{Key: key, Bytes: set.ObjectBytes, SHA256: sum, Records: records}, nil
}

// place hard-links the cached objects into bdir, bucket's directory (a copy only when the
// two are on different filesystems); "" places nothing (a cache without buckets).
func (c *Cache) place(bdir, bucket string, objs []Object) error {
	if bdir == "" {
		return nil
	}
	for _, o := range objs {
		if err := linkOrCopy(filepath.Join(c.dir, o.Key), filepath.Join(bdir, o.Key)); err != nil {
			return fmt.Errorf("place %s in bucket %s: %w", o.Key, bucket, err)
		}
	}
	return nil
}

// linkOrCopy makes dst the same file as src: a hard link, or a copy across filesystems.
// An existing dst that is already src is left alone.
func linkOrCopy(src, dst string) error {
	if a, err := os.Stat(src); err != nil {
		return err
	} else if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst)
	err := os.Link(src, dst)
	if !errors.Is(err, unix.EXDEV) {
		return err
	}
	return copyFile(src, dst)
}

// checkFree refuses to fill the disk: need bytes plus a 1 GB margin must be free.
func checkFree(dir string, need int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	const margin = 1 << 30
	if free < need+margin {
		return fmt.Errorf("%w: the data set needs %d MB (+1 GB margin), %s has %d MB free", ErrNoSpace,
			need/MB, dir, free/MB)
	}
	return nil
}
