package shape

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBitsFollowsTcUnits(t *testing.T) {
	for in, want := range map[string]int64{
		"560mbit": 560e6, "1gbit": 1e9, "100M": 100e6, "2.5g": 2.5e9, "800k": 800e3,
		"1000000": 1e6, "100mbps": 800e6, "1kbps": 8000, "1mibit": 1 << 20, "12bit": 12, " 10Mbit ": 10e6,
	} {
		if got, err := ParseBits(in); err != nil || got != want {
			t.Errorf("ParseBits(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fast", "-1mbit", "1xbit", "mbit", "NaN", "1e300gbit"} {
		if _, err := ParseBits(bad); err == nil {
			t.Errorf("ParseBits(%q) accepted", bad)
		}
	}
}

func FuzzParseBits(f *testing.F) {
	for _, s := range []string{"560mbit", "100mbps", "1G", "0", "-1", "1e18tbit", "kbit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseBits(s)
		if err == nil && v < 0 {
			t.Errorf("ParseBits(%q) = %d: negative rate accepted", s, v)
		}
		if err != nil && !strings.Contains(err.Error(), "rate") {
			t.Errorf("ParseBits(%q): error %q does not name the rate", s, err)
		}
	})
}

func TestParsePolicyConfig(t *testing.T) {
	p, err := ParsePolicyConfig(PolicySpec{Policy: "fixed", FixedRate: "80mbit"}, 560e6)
	if err != nil || p.Name != PolicyFixed || p.FixedBitsPerSec != 80e6 || p.NICBitsPerSec != 560e6 {
		t.Errorf("fixed 80mbit = %+v, %v", p, err)
	}
	p, err = ParsePolicyConfig(PolicySpec{Policy: "none", NIC: "unlimited"}, 560e6)
	if err != nil || p.NICBitsPerSec != 0 {
		t.Errorf("none, unlimited NIC = %+v, %v", p, err)
	}
	if _, err := ParsePolicyConfig(PolicySpec{Policy: "fair"}, 560e6); !errors.Is(err, ErrUnknownPolicy) {
		t.Errorf("unknown policy: %v", err)
	}
	if _, err := ParsePolicyConfig(PolicySpec{Policy: "none", NIC: "fast"}, 560e6); err == nil || !strings.Contains(err.Error(), "nic") {
		t.Errorf("bad NIC: %v", err)
	}
}

// TestMinRateAsWritten: the minimum rate's two spellings agree.
func TestMinRateAsWritten(t *testing.T) {
	if got, err := ParseBits(MinRate); err != nil || got != MinRateBitsPerSec {
		t.Errorf("ParseBits(MinRate %q) = %d, %v; want %d", MinRate, got, err, MinRateBitsPerSec)
	}
}
