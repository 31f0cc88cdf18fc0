package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"
)

// A daemon's names are locked while it runs: a second daemon or a cleanup with its
// network prefix, or with its cgroup parent, is refused (ErrRunning, naming the holder's
// pid) rather than reaping the running daemon's objects. Released, the names are free.
func TestConfigLock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: locks live in " + LockDir)
	}
	id := testutil.RandomHex(4)
	cfg := DefaultConfig()
	cfg.Network.Prefix, cfg.CgroupRoot = "faaslabl"+id, "/faaslabl"+id
	t.Cleanup(func() {
		for _, n := range []string{"net-faaslabl", "net-faaslabm", "cgroup-faaslabl", "cgroup-faaslabm"} {
			os.Remove(filepath.Join(LockDir, n+id+".lock"))
		}
	})
	first, err := lockConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	samePrefix, sameCgroup := cfg, cfg
	sameCgroup.Network.Prefix = "faaslabm" + id
	samePrefix.CgroupRoot = "/faaslabm" + id
	for name, c := range map[string]Config{"same prefix": samePrefix, "same cgroup parent": sameCgroup} {
		if _, err := lockConfig(c); !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
			t.Errorf("%s: %v, want ErrRunning naming pid %d", name, err, os.Getpid())
		}
	}
	first.release()
	again, err := lockConfig(cfg)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.release()
	// Released locks leave no files behind.
	if _, err := os.Stat(filepath.Join(LockDir, "net-faaslabl"+id+".lock")); !os.IsNotExist(err) {
		t.Errorf("lock file after release: %v", err)
	}
}
