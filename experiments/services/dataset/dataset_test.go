package dataset

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateIsDeterministicExactAndWholeRecords(t *testing.T) {
	var a, b bytes.Buffer
	sa, ra, err := Generate(&a, 1_000_003, 42)
	if err != nil {
		t.Fatal(err)
	}
	sb, _, _ := Generate(&b, 1_000_003, 42)
	if sa != sb || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed gave different content")
	}
	if a.Len() != 1_000_003 || !bytes.HasSuffix(a.Bytes(), []byte("\n")) {
		t.Fatalf("len %d, want exactly 1000003 ending in a newline", a.Len())
	}
	if got := int64(bytes.Count(a.Bytes(), []byte("\n"))); got != ra {
		t.Fatalf("records %d, newlines %d", ra, got)
	}
	first := strings.SplitN(a.String(), "\n", 2)[0]
	if f := strings.Split(first, "\t"); len(f) != 5 || !strings.HasPrefix(f[0], "B00") {
		t.Fatalf("record %q: want productId, userId, score, summary, text", first)
	}
	var c bytes.Buffer
	if sc, _, _ := Generate(&c, 1_000_003, 43); sc == sa {
		t.Fatal("another seed gave the same content")
	}
}

type dirBuckets string

func (d dirBuckets) BucketDir(b string) (string, error) { return filepath.Join(string(d), b), nil }

func TestEnsurePlacesHardLinksAndKeepsManifest(t *testing.T) {
	dir := t.TempDir()
	c := NewCache(filepath.Join(dir, "cache"), dirBuckets(filepath.Join(dir, "s3")))
	sm, err := c.Ensure("10mb", 2)
	if err != nil || len(sm.Objects) != 2 {
		t.Fatalf("%+v %v", sm, err)
	}
	cached, _ := os.Stat(filepath.Join(dir, "cache", sm.Objects[1].Key))
	placed, err := os.Stat(filepath.Join(dir, "s3", DefaultBucket, sm.Objects[1].Key))
	if err != nil || !os.SameFile(cached, placed) || placed.Size() != 10*MB {
		t.Fatalf("placed object is not a hard link of the cached one (%v)", err)
	}
	again, err := c.Ensure("10mb", 1)
	if err != nil || again.Objects[0] != sm.Objects[0] {
		t.Fatalf("second ensure regenerated or changed: %+v %v", again, err)
	}
	m, _ := NewCache(filepath.Join(dir, "cache"), nil).Manifest()
	if len(m.Sets) != 1 || len(m.Sets[0].Objects) != 2 || m.Sets[0].ObjectBytes != 10*MB {
		t.Fatalf("manifest %+v", m)
	}
}

func TestEnsureRejectsBadInput(t *testing.T) {
	c := NewCache(t.TempDir(), nil)
	if _, err := c.Ensure("7mb", 1); err == nil || !strings.Contains(err.Error(), `"7mb"`) {
		t.Errorf("unknown set: %v", err)
	}
	if _, err := c.Ensure("10mb", MaxCount+1); err == nil || !strings.Contains(err.Error(), "count") {
		t.Errorf("too many: %v", err)
	}
	if _, err := c.Ensure("200mb", MaxCount); !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "MB") {
		t.Errorf("200 GB on this disk: want ErrNoSpace naming the size, got %v", err)
	}
}

// DeleteUploads removes one run's uploads and nothing else; a bad run id or a cache
// without buckets is an error that deletes nothing.
func TestDeleteUploadsRemovesOnlyThatRun(t *testing.T) {
	buckets := dirBuckets(t.TempDir())
	c := NewCache(t.TempDir(), buckets)
	bdir, _ := buckets.BucketDir(DefaultBucket)
	for _, p := range []string{"experiments/run-a/fx-1/0000", "experiments/run-b/fx-2/0000", "10mb/part-00000.txt"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(bdir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bdir, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeleteUploads("run-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bdir, "experiments/run-a")); !os.IsNotExist(err) {
		t.Errorf("run-a's uploads still there: %v", err)
	}
	for _, keep := range []string{"experiments/run-b/fx-2/0000", "10mb/part-00000.txt"} {
		if _, err := os.Stat(filepath.Join(bdir, keep)); err != nil {
			t.Errorf("%s was deleted too: %v", keep, err)
		}
	}
	for _, bad := range []string{"", "..", ".", "../x", "a/b"} {
		if err := c.DeleteUploads(bad); err == nil {
			t.Errorf("run %q: want an error", bad)
		}
	}
	if err := NewCache(t.TempDir(), nil).DeleteUploads("run-a"); !errors.Is(err, ErrNoBuckets) {
		t.Errorf("no buckets: got %v, want ErrNoBuckets", err)
	}
}

// noBuckets is a store that is not the embedded one (services.Store.BucketDir's answer).
type noBuckets struct{}

func (noBuckets) BucketDir(string) (string, error) {
	return "", errors.New("the object store is not the embedded one")
}

// Without an embedded store Ensure says so before it checks the disk or generates
// anything, and both data routes answer it with one status, 409.
func TestNoEmbeddedStoreIsRefusedFirstWith409(t *testing.T) {
	dir := t.TempDir()
	c := NewCache(dir, noBuckets{})
	if _, err := c.Ensure("10mb", 1); !errors.Is(err, ErrNoBuckets) {
		t.Errorf("ensure: got %v, want ErrNoBuckets", err)
	}
	if _, err := os.Stat(filepath.Join(dir, Key("10mb", 0))); !os.IsNotExist(err) {
		t.Errorf("an object was generated for a store that cannot take it (%v)", err)
	}
	if _, err := c.Ensure("200mb", MaxCount); !errors.Is(err, ErrNoBuckets) {
		t.Errorf("ensure 200 GB: got %v, want ErrNoBuckets before the free-space check", err)
	}
	for _, tc := range []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{"POST", "/faaslab/v1/data/{set}", MakeEnsureHandler(c)},
		{"DELETE", "/faaslab/v1/data/uploads/{run}", MakeDeleteUploadsHandler(c)},
	} {
		mux := http.NewServeMux()
		mux.HandleFunc(tc.method+" "+tc.path, tc.h)
		url := strings.NewReplacer("{set}", "10mb", "{run}", "run-a").Replace(tc.path)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tc.method, url, strings.NewReader(`{"count":1}`)))
		if rec.Code != http.StatusConflict {
			t.Errorf("%s %s: %d %s, want 409", tc.method, url, rec.Code, rec.Body)
		}
	}
}
