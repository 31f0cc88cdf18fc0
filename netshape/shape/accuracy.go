package shape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faaslab/faaslab/experiments/stats"
	"github.com/faaslab/faaslab/netshape/ns"
)

// GoodputFactor is the best iperf3 goodput per configured bit on Ethernet:
// 1448 TCP payload bytes per 1514-byte frame (measured 95.7 of 100 Mbit/s).
const GoodputFactor = 0.956

// Accuracy targets (reported, not asserted).
const (
	TargetPerSandboxErr = 0.05 // fixed/equal: |goodput/(0.956×share) − 1|
	TargetJain          = 0.99 // equal
	TargetShareErr      = 0.05 // proportional: |share/expected − 1|
	TargetAggregateErr  = 0.03 // none: |aggregate/(0.956×cap) − 1|
)

// AccuracyPoint is one measurement.
type AccuracyPoint struct {
	Policy string // fixed | equal | proportional | none | priority
	N      int    // concurrent sandboxes (one iperf3 client each)
	// RateBitsPerSec is the per-sandbox rate for "fixed" and the NIC cap for
	// every other policy.
	RateBitsPerSec int64
	// MemoryMB per sandbox, cycled over the N sandboxes (default 128 MB).
	MemoryMB []int
	Download bool // iperf3 -R (shaped on the remote end of the uplink)
	// NICQueue is the NIC queue model under policy none ("" = fair).
	NICQueue string
}

// AccuracyConfig configures MeasureAccuracy.
type AccuracyConfig struct {
	Points      []AccuracyPoint // default: DefaultAccuracyPoints()
	DurationSec int             // iperf3 -t (default 3)
	OmitSec     int             // iperf3 -O (default 1)
	IperfPath   string          // default "iperf3"
	// Tag makes namespace names unique (faaslab<tag>…); default random.
	Tag string
}

// AccuracyRow is the result of one point.
type AccuracyRow struct {
	Point         AccuracyPoint
	PerSandbox    []float64 // achieved goodput, bit/s
	Expected      []float64 // 0.956 × configured share, bit/s
	MedianBits    float64
	MinBits       float64
	MaxBits       float64
	ExpectedBits  float64 // expected per-sandbox goodput of the median (equal shares)
	MedianErr     float64 // median/expected − 1
	AggregateBits float64
	AggregateErr  float64 // aggregate/Σ expected − 1
	// WireBits is the rate counted by the shaper's own classes (frames incl.
	// headers) over one window common to all clients; WireErr compares it
	// with the configured total (NIC cap, or N × rate for fixed). iperf3's
	// per-client windows are not aligned, so under work-conserving policies
	// the sum of client averages can exceed the cap; the wire rate cannot.
	WireBits float64
	WireErr  float64
	Jain     float64
	// PerSandboxWire are the clients' rates from their own links' counters over the same
	// common window, and WireJain their fairness: unlike the iperf3 averages they do not
	// depend on when each client started, so they judge how the NIC shares.
	PerSandboxWire []float64
	WireJain       float64
	ShareErr       float64 // max |share_i/expected_share_i − 1|
	Pass           bool
	Err            error
}

var (
	rateSet = []int64{10_000_000, 100_000_000, 1_000_000_000}
	nSet    = []int{1, 2, 4, 8, 16, 26}
)

// DefaultAccuracyPoints is the full grid of issue 3: fixed N × rates, equal
// Jain fairness, proportional 1:2:3:4, none vs the NIC cap, upload plus a
// few downloads.
func DefaultAccuracyPoints() []AccuracyPoint {
	var pts []AccuracyPoint
	for _, r := range rateSet {
		for _, n := range nSet {
			pts = append(pts, AccuracyPoint{Policy: PolicyFixed, N: n, RateBitsPerSec: r})
		}
	}
	for _, n := range []int{1, 4, 26} {
		pts = append(pts, AccuracyPoint{Policy: PolicyFixed, N: n, RateBitsPerSec: 100_000_000, Download: true})
	}
	for _, n := range nSet[1:] {
		pts = append(pts, AccuracyPoint{Policy: PolicyEqual, N: n, RateBitsPerSec: 1_000_000_000})
	}
	for _, r := range rateSet[1:] {
		pts = append(pts, AccuracyPoint{Policy: PolicyProportional, N: 4, RateBitsPerSec: r, MemoryMB: []int{128, 256, 384, 512}})
	}
	for _, n := range []int{1, 4, 26} {
		pts = append(pts, AccuracyPoint{Policy: PolicyNone, N: n, RateBitsPerSec: 1_000_000_000})
	}
	pts = append(pts, AccuracyPoint{Policy: PolicyNone, N: 4, RateBitsPerSec: 100_000_000, Download: true})
	return pts
}

// QuickAccuracyPoints is a small subset (about a minute) for quick checks.
func QuickAccuracyPoints() []AccuracyPoint {
	return []AccuracyPoint{
		{Policy: PolicyFixed, N: 1, RateBitsPerSec: 100_000_000},
		{Policy: PolicyFixed, N: 4, RateBitsPerSec: 10_000_000},
		{Policy: PolicyFixed, N: 2, RateBitsPerSec: 1_000_000_000},
		{Policy: PolicyFixed, N: 2, RateBitsPerSec: 100_000_000, Download: true},
		{Policy: PolicyEqual, N: 4, RateBitsPerSec: 100_000_000},
		{Policy: PolicyProportional, N: 4, RateBitsPerSec: 100_000_000, MemoryMB: []int{128, 256, 384, 512}},
		{Policy: PolicyNone, N: 4, RateBitsPerSec: 100_000_000},
	}
}

// MeasureAccuracy builds a throwaway topology (bridge, uplink to a remote
// netns, N sandbox netns, all named faaslab<tag>…), runs every point with one
// iperf3 server per client, and removes everything again, also on error or
// context cancellation. Per-point failures are recorded in the row and joined
// into the returned error; the other points still run.
func MeasureAccuracy(ctx context.Context, cfg AccuracyConfig, progress io.Writer) ([]AccuracyRow, error) {
	cfg = cfg.withDefaults()
	if progress == nil {
		progress = io.Discard
	}
	if _, err := exec.LookPath(cfg.IperfPath); err != nil {
		return nil, fmt.Errorf("iperf3 not found (install the Debian package iperf3): %w", err)
	}
	maxN := 0
	for _, p := range cfg.Points {
		if p.N < 1 {
			return nil, fmt.Errorf("accuracy point %+v: N must be ≥ 1", p)
		}
		maxN = max(maxN, p.N)
	}
	topo, err := newTopology(cfg.Tag, maxN)
	if err != nil {
		return nil, fmt.Errorf("build benchmark topology: %w", err)
	}
	defer topo.Close()
	var rows []AccuracyRow
	var errs []error
	for i, pt := range cfg.Points {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		fmt.Fprintf(progress, "[%d/%d] %s\n", i+1, len(cfg.Points), pt)
		row := runPoint(ctx, topo, pt, cfg)
		if row.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pt, row.Err))
			fmt.Fprintf(progress, "      error: %v\n", row.Err)
		} else {
			fmt.Fprintf(progress, "      median %s (want %s, %+.1f%%) aggregate %s Jain %.4f\n",
				FormatBits(row.MedianBits), FormatBits(row.ExpectedBits), 100*row.MedianErr, FormatBits(row.AggregateBits), row.Jain)
		}
		rows = append(rows, row)
	}
	return rows, errors.Join(errs...)
}

func (c AccuracyConfig) withDefaults() AccuracyConfig {
	if len(c.Points) == 0 {
		c.Points = DefaultAccuracyPoints()
	}
	if c.DurationSec <= 0 {
		c.DurationSec = 3
	}
	if c.OmitSec < 0 {
		c.OmitSec = 0
	} else if c.OmitSec == 0 {
		c.OmitSec = 1
	}
	if c.IperfPath == "" {
		c.IperfPath = "iperf3"
	}
	if c.Tag == "" {
		c.Tag = newTag()
	}
	return c
}

// String names a point in progress output.
func (p AccuracyPoint) String() string {
	dir := "upload"
	if p.Download {
		dir = "download"
	}
	what := "NIC"
	if p.Policy == PolicyFixed {
		what = "rate"
	}
	queue := ""
	if p.NICQueue != "" {
		queue = " queue=" + p.NICQueue
	}
	return fmt.Sprintf("%s N=%d %s=%s %s%s", p.Policy, p.N, what, FormatBits(float64(p.RateBitsPerSec)), dir, queue)
}

// members of a point: sb00…, memory cycled, IPs from the topology.
func (p AccuracyPoint) members(topo *topology) []Member {
	ms := make([]Member, p.N)
	for i := range ms {
		mem := 128
		if len(p.MemoryMB) > 0 {
			mem = p.MemoryMB[i%len(p.MemoryMB)]
		}
		ms[i] = Member{SandboxID: fmt.Sprintf("sb%02d", i), Function: fmt.Sprintf("bench%02d", i), MemoryMB: mem, IP: topo.sandboxIP[i], Priority: 0}
	}
	return ms
}

func (p AccuracyPoint) policy() PolicyConfig {
	if p.Policy == PolicyFixed {
		return PolicyConfig{Name: PolicyFixed, FixedBitsPerSec: p.RateBitsPerSec}
	}
	return PolicyConfig{Name: p.Policy, NICBitsPerSec: p.RateBitsPerSec, NICQueue: p.NICQueue}
}

// expected returns each sandbox's ideal goodput: 0.956 × its share of the
// configured rates when everyone is busy.
func (p AccuracyPoint) expected(ms []Member) []float64 {
	out := make([]float64, len(ms))
	total := 0
	for _, m := range ms {
		total += m.MemoryMB
	}
	for i, m := range ms {
		switch p.Policy {
		case PolicyFixed:
			out[i] = GoodputFactor * float64(p.RateBitsPerSec)
		case PolicyProportional:
			out[i] = GoodputFactor * float64(p.RateBitsPerSec) * float64(m.MemoryMB) / float64(total)
		default: // equal, none, priority: everyone busy → an equal split
			out[i] = GoodputFactor * float64(p.RateBitsPerSec) / float64(len(ms))
		}
	}
	return out
}

// runPoint shapes the first N sandboxes and measures them.
func runPoint(ctx context.Context, topo *topology, pt AccuracyPoint, cfg AccuracyConfig) (row AccuracyRow) {
	row.Point = pt
	ms := pt.members(topo)
	row.Expected = pt.expected(ms)
	s, err := New(topo.links(), pt.policy(), nil, nil)
	if err != nil {
		row.Err = err
		return row
	}
	defer func() { row.Err = errors.Join(row.Err, s.Close()) }()
	if err := s.Update(ms); err != nil {
		row.Err = err
		return row
	}
	servers, err := startIperfServers(ctx, cfg.IperfPath, topo.remoteNS, topo.remoteIP, pt.N)
	if err != nil {
		row.Err = err
		return row
	}
	defer servers.stop()
	wire := make(chan wireRates, 1)
	go func() { wire <- sampleWireRate(ctx, s, pt, cfg, topo.sandboxNS[:pt.N]) }()
	got, err := runIperfClients(ctx, cfg.IperfPath, topo.sandboxNS[:pt.N], topo.remoteIP, cfg.DurationSec, cfg.OmitSec, pt.Download)
	if err != nil {
		row.Err = err
		return row
	}
	row.PerSandbox = got
	w := <-wire
	row.WireBits, row.PerSandboxWire = w.total, w.perSandbox
	row.summarize()
	return row
}

// summarize computes medians, errors, fairness and the pass verdict.
func (r *AccuracyRow) summarize() {
	xs := slices.Clone(r.PerSandbox)
	slices.Sort(xs)
	r.MinBits, r.MaxBits, r.MedianBits = xs[0], xs[len(xs)-1], stats.Median(xs)
	ex := slices.Clone(r.Expected)
	slices.Sort(ex)
	r.ExpectedBits = stats.Median(ex)
	r.MedianErr = r.MedianBits/r.ExpectedBits - 1
	var sumExp float64
	for i, x := range r.PerSandbox {
		r.AggregateBits += x
		sumExp += r.Expected[i]
	}
	r.AggregateErr = r.AggregateBits/sumExp - 1
	r.Jain = stats.Jain(r.PerSandbox)
	if len(r.PerSandboxWire) > 0 {
		r.WireJain = stats.Jain(r.PerSandboxWire)
	}
	for i, x := range r.PerSandbox {
		share, want := x/r.AggregateBits, r.Expected[i]/sumExp
		r.ShareErr = max(r.ShareErr, math.Abs(share/want-1))
	}
	configured := float64(r.Point.RateBitsPerSec)
	if r.Point.Policy == PolicyFixed {
		configured *= float64(r.Point.N)
	}
	r.WireErr = r.WireBits/configured - 1
	switch r.Point.Policy {
	case PolicyFixed:
		r.Pass = math.Abs(r.MedianErr) <= TargetPerSandboxErr
	case PolicyEqual:
		r.Pass = r.Jain >= TargetJain && math.Abs(r.MedianErr) <= TargetPerSandboxErr
	case PolicyProportional:
		r.Pass = r.ShareErr <= TargetShareErr
	case PolicyNone:
		r.Pass = math.Abs(r.WireErr) <= TargetAggregateErr
	}
}

// FormatBits renders bit/s with an SI unit ("95.6M").
func FormatBits(b float64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.4gG", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.4gM", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.4gk", b/1e3)
	}
	return fmt.Sprintf("%.0f", b)
}

// WriteAccuracyTable prints one line per point: configured, achieved
// goodput (median, min, max per sandbox), error, aggregate, fairness, verdict.
func WriteAccuracyTable(w io.Writer, rows []AccuracyRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tdir\tN\tconfigured\twant/sb\tmedian/sb\tmin\tmax\terr\taggregate\tagg err\twire\twire err\tJain\tshare err\ttarget\t")
	for _, r := range rows {
		p := r.Point
		dir := "up"
		if p.Download {
			dir = "down"
		}
		conf := FormatBits(float64(p.RateBitsPerSec))
		if p.Policy == PolicyFixed {
			conf += "/sb"
		} else {
			conf += " NIC"
		}
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\t\t\t\t\t\t\t\t\t\t\tERROR: %s\t\n", p.Policy, dir, p.N, conf, firstLine(r.Err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%+.1f%%\t%s\t%+.1f%%\t%s\t%+.1f%%\t%.4f\t%.1f%%\t%s\t\n",
			p.Policy, dir, p.N, conf, FormatBits(r.ExpectedBits), FormatBits(r.MedianBits), FormatBits(r.MinBits), FormatBits(r.MaxBits),
			100*r.MedianErr, FormatBits(r.AggregateBits), 100*r.AggregateErr, FormatBits(r.WireBits), 100*r.WireErr, r.Jain, 100*r.ShareErr, verdict(r))
	}
	return tw.Flush()
}

func verdict(r AccuracyRow) string {
	target := map[string]string{
		PolicyFixed: "|err|≤5%", PolicyEqual: "Jain≥0.99", PolicyProportional: "share≤5%", PolicyNone: "|wire|≤3%",
	}[r.Point.Policy]
	if target == "" {
		return "-"
	}
	if r.Pass {
		return "ok " + target
	}
	return "MISS " + target
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// ParseAccuracyPoints parses a comma-separated point list for the CLI:
// "policy:N:rate[:down][:mem=128/256/384/512][:queue=fifo]", rate with k/M/G
// suffix, e.g. "fixed:4:100M,equal:8:1G:down,none:26:560M:down:queue=fifo".
// "quick" and "full" name the built-in sets.
func ParseAccuracyPoints(spec string) ([]AccuracyPoint, error) {
	switch strings.TrimSpace(spec) {
	case "", "full":
		return DefaultAccuracyPoints(), nil
	case "quick":
		return QuickAccuracyPoints(), nil
	}
	var pts []AccuracyPoint
	for _, item := range strings.Split(spec, ",") {
		fs := strings.Split(strings.TrimSpace(item), ":")
		if len(fs) < 3 {
			return nil, fmt.Errorf("accuracy point %q: want policy:N:rate[:down][:mem=a/b/…]", item)
		}
		name, err := ParsePolicy(fs[0])
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(fs[1])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("accuracy point %q: N %q is not a positive integer", item, fs[1])
		}
		rate, err := ParseBits(fs[2])
		if err != nil {
			return nil, fmt.Errorf("accuracy point %q: %w", item, err)
		}
		pt := AccuracyPoint{Policy: name, N: n, RateBitsPerSec: rate}
		for _, opt := range fs[3:] {
			switch {
			case opt == "down":
				pt.Download = true
			case strings.HasPrefix(opt, "mem="):
				for _, m := range strings.Split(strings.TrimPrefix(opt, "mem="), "/") {
					v, err := strconv.Atoi(m)
					if err != nil || v <= 0 {
						return nil, fmt.Errorf("accuracy point %q: memory %q is not a positive integer (MB)", item, m)
					}
					pt.MemoryMB = append(pt.MemoryMB, v)
				}
			case strings.HasPrefix(opt, "queue="):
				if pt.NICQueue, err = ParseNICQueue(strings.TrimPrefix(opt, "queue=")); err != nil {
					return nil, fmt.Errorf("accuracy point %q: %w", item, err)
				}
			default:
				return nil, fmt.Errorf("accuracy point %q: unknown option %q (down, mem=…, queue=fair|fifo|…)", item, opt)
			}
		}
		pts = append(pts, pt)
	}
	return pts, nil
}

// wireRates are a window's rates from counters: the shaped total and each sandbox's link.
type wireRates struct {
	total      float64
	perSandbox []float64
}

// sandboxBytes reads each sandbox's eth counter (received bytes for downloads, sent for
// uploads); nil when one cannot be read.
func sandboxBytes(sandboxNS []string, download bool) []uint64 {
	out := make([]uint64, len(sandboxNS))
	for i, name := range sandboxNS {
		h, err := handleAt(ns.NamedPath(name))
		if err != nil {
			return nil
		}
		l, err := h.LinkByName(topoSandboxEth)
		h.Close()
		if err != nil || l.Attrs().Statistics == nil {
			return nil
		}
		if st := l.Attrs().Statistics; download {
			out[i] = st.RxBytes
		} else {
			out[i] = st.TxBytes
		}
	}
	return out
}

// sampleWireRate measures the shaped direction's total rate from the class
// counters over [omit+0.5 s, omit+duration−0.5 s] after the clients start:
// the root class when there is a NIC cap, else the sum of member classes.
func sampleWireRate(ctx context.Context, s *Shaper, pt AccuracyPoint, cfg AccuracyConfig, sandboxNS []string) wireRates {
	dir := Upload
	if pt.Download {
		dir = Download
	}
	read := func() (uint64, time.Time) {
		stats, err := s.ClassStats()
		if err != nil {
			return 0, time.Now()
		}
		var root, members uint64
		hasRoot := false
		for _, st := range stats {
			switch {
			case st.Direction != dir:
			case st.Kind == KindRoot:
				root, hasRoot = st.SentBytes, true
			case st.Kind == KindMember:
				members += st.SentBytes
			}
		}
		if hasRoot {
			return root, time.Now()
		}
		return members, time.Now()
	}
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	half := 500 * time.Millisecond
	if !sleep(time.Duration(cfg.OmitSec)*time.Second + half) {
		return wireRates{}
	}
	b0, t0 := read()
	f0 := sandboxBytes(sandboxNS, pt.Download)
	if !sleep(time.Duration(cfg.DurationSec)*time.Second - 2*half) {
		return wireRates{}
	}
	b1, t1 := read()
	f1 := sandboxBytes(sandboxNS, pt.Download)
	secs := t1.Sub(t0).Seconds()
	w := wireRates{total: float64(b1-b0) * 8 / secs}
	if f0 != nil && f1 != nil {
		for i := range f0 {
			w.perSandbox = append(w.perSandbox, float64(f1[i]-f0[i])*8/secs)
		}
	}
	return w
}
