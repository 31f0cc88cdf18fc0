package shape

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// rateUnits are tc's rate units (tc(8) "RATES"), longest first so "mbps" is not read as
// "bps" after "m": bit-based units count bits per second, byte-based ones ("bps") count
// bytes per second and so are multiplied by 8. A bare suffix k/M/G (e.g. "100M") counts
// bits, as iperf3's -b does.
var rateUnits = []struct {
	suffix     string
	bitsPerSec float64
}{
	{"tibit", 1 << 40}, {"gibit", 1 << 30}, {"mibit", 1 << 20}, {"kibit", 1 << 10},
	{"tibps", 8 << 40}, {"gibps", 8 << 30}, {"mibps", 8 << 20}, {"kibps", 8 << 10},
	{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3},
	{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3},
	{"bit", 1}, {"bps", 8},
	{"t", 1e12}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3},
}

// The smallest rate faaslab takes anywhere (1000 B/s; the daemon's NIC and policy rates,
// a spec's, the WAN model's): below it HTB's buffer (in psched ticks) for a 64 KiB burst
// overflows its u32. MinRate is how messages write it.
const (
	MinRateBitsPerSec = 8000
	MinRate           = "8kbit"
)

// ParseBits parses a rate as tc writes it and returns bits per second: "560mbit", "1gbit",
// "100M" and "1000000" are bits per second; "100mbps" is 100 megabytes per second
// (800 Mbit/s), as in tc.
func ParseBits(s string) (int64, error) {
	text := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range rateUnits {
		if strings.HasSuffix(text, u.suffix) {
			text, mult = strings.TrimSuffix(text, u.suffix), u.bitsPerSec
			break
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("rate %q: want a number with a tc unit (bit, kbit, mbit, gbit; bps, kbps, mbps, gbps are bytes per second)", s)
	}
	return int64(math.Round(v * mult)), nil
}

// PolicySpec is a policy as people write it — in daemon flags, the policy PUT of the host
// API and experiment specs: names and tc rates as strings.
type PolicySpec struct {
	Policy    string // none | fixed | equal | proportional | priority | netprio
	NIC       string // emulated NIC capacity, e.g. 560mbit; "unlimited" or "0": no cap; "": the default
	FixedRate string // per-sandbox cap of policy fixed
	Strict    bool   // proportional: ceil = rate
	NICQueue  string // policy none: fair (default) | fifo | fq_codel | sfq | flowhash
}

// ParsePolicyConfig turns a PolicySpec into a validated PolicyConfig; an empty NIC means
// defaultNICBitsPerSec (the host profile's NIC).
func ParsePolicyConfig(spec PolicySpec, defaultNICBitsPerSec int64) (PolicyConfig, error) {
	name, err := ParsePolicy(spec.Policy)
	if err != nil {
		return PolicyConfig{}, err
	}
	p := PolicyConfig{Name: name, NICBitsPerSec: defaultNICBitsPerSec, Strict: spec.Strict}
	if p.NICQueue, err = ParseNICQueue(spec.NICQueue); err != nil {
		return p, fmt.Errorf("nic_queue: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(spec.NIC)) {
	case "":
	case "unlimited", "0":
		p.NICBitsPerSec = 0
	default:
		if p.NICBitsPerSec, err = ParseBits(spec.NIC); err != nil {
			return p, fmt.Errorf("nic: %w", err)
		}
	}
	if spec.FixedRate != "" {
		if p.FixedBitsPerSec, err = ParseBits(spec.FixedRate); err != nil {
			return p, fmt.Errorf("fixed rate: %w", err)
		}
	}
	return p, p.Validate()
}
