package sandbox

import (
	"os"
	"testing"
)

func TestParseKey(t *testing.T) {
	text := "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
	if v, err := parseKey(text, "oom_kill"); err != nil || v != 3 {
		t.Errorf("oom_kill: %d %v", v, err)
	}
	if v, err := parseKey(text, "absent"); err != nil || v != 0 {
		t.Errorf("absent key: %d %v", v, err)
	}
}

// TestKeptOpenStatsMatchReadStats checks the pread path against fresh reads.
func TestKeptOpenStatsMatchReadStats(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a cgroup")
	}
	c, err := NewCgroup("/faaslabt-stats-"+randSuffix(), Resources{MemoryBytes: 64 << 20, PidsMax: 10})
	if err != nil {
		t.Skipf("cgroups unavailable: %v", err)
	}
	defer c.Delete()
	for i := 0; i < 3; i++ {
		kept, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := ReadStats(c.Path())
		if err != nil {
			t.Fatal(err)
		}
		if kept.OOMKills != fresh.OOMKills || kept.MemoryPeakBytes != fresh.MemoryPeakBytes {
			t.Errorf("kept-open stats %+v differ from fresh %+v", kept, fresh)
		}
	}
	if limit, err := ReadMemoryLimit(c.Path()); err != nil || limit != 64<<20 {
		t.Errorf("memory limit %d, %v", limit, err)
	}
}

func randSuffix() string {
	b := make([]byte, 3)
	f, _ := os.Open("/dev/urandom")
	f.Read(b)
	f.Close()
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 6)
	for _, x := range b {
		out = append(out, hex[x>>4], hex[x&15])
	}
	return string(out)
}
