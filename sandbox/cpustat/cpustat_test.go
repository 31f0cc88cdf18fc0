package cpustat

import "testing"

func TestParse(t *testing.T) {
	for name, c := range map[string]struct {
		text string
		want Stat
	}{
		"v1": {"nr_periods 120\nnr_throttled 100\nthrottled_time 9150000000\nnr_bursts 0\nburst_time 0\n",
			Stat{Periods: 120, ThrottledPeriods: 100, ThrottledNs: 9_150_000_000}},
		"v2": {"usage_usec 8500\nuser_usec 8000\nsystem_usec 500\nnr_periods 120\nnr_throttled 100\nthrottled_usec 9150000\n",
			Stat{Periods: 120, ThrottledPeriods: 100, ThrottledNs: 9_150_000_000, UsageNs: 8_500_000, HasUsage: true}},
		"v2 without a quota": {"usage_usec 0\nuser_usec 0\nsystem_usec 0\n", Stat{HasUsage: true}},
		"empty":              {"", Stat{}},
	} {
		got, err := Parse(c.text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
	if _, err := Parse("nr_periods x\n"); err == nil {
		t.Error("a malformed value parsed")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("usage_usec 8500\nnr_periods 120\nthrottled_usec 9150000\n")
	f.Fuzz(func(t *testing.T, text string) {
		st, err := Parse(text)
		if err == nil && st.UsageNs != 0 && !st.HasUsage {
			t.Errorf("usage %d without usage_usec", st.UsageNs)
		}
	})
}
