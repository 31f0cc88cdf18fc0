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

func TestParseCPUStat(t *testing.T) {
	v1 := "nr_periods 120\nnr_throttled 100\nthrottled_time 9150000000\nnr_bursts 0\nburst_time 0\n"
	v2 := "usage_usec 8500\nuser_usec 8000\nsystem_usec 500\nnr_periods 120\nnr_throttled 100\nthrottled_usec 9150000\n"
	for name, c := range map[string]struct {
		text string
		v2   bool
	}{"v1": {v1, false}, "v2": {v2, true}} {
		got, err := parseCPUStat(c.text, c.v2)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := (CPUStat{Periods: 120, ThrottledPeriods: 100, ThrottledNs: 9_150_000_000}); got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
}
