package shape

import (
	"bytes"
	"context"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/netshape/ns"
)

func TestParseAccuracyPoints(t *testing.T) {
	pts, err := ParseAccuracyPoints("fixed:4:100M, equal:8:1G:down,proportional:4:2.5g:mem=128/256")
	if err != nil {
		t.Fatal(err)
	}
	want := []AccuracyPoint{
		{Policy: "fixed", N: 4, RateBitsPerSec: 100e6},
		{Policy: "equal", N: 8, RateBitsPerSec: 1e9, Download: true},
		{Policy: "proportional", N: 4, RateBitsPerSec: 2.5e9, MemoryMB: []int{128, 256}},
	}
	if !reflect.DeepEqual(pts, want) {
		t.Errorf("got %+v", pts)
	}
	for _, bad := range []string{"fixed:0:1M", "fair:1:1M", "fixed:1:fast", "fixed:1:1M:up"} {
		if _, err := ParseAccuracyPoints(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if pts, _ := ParseAccuracyPoints("quick"); len(pts) != len(QuickAccuracyPoints()) {
		t.Error("quick")
	}
}

func TestSummarize(t *testing.T) {
	r := AccuracyRow{
		Point:      AccuracyPoint{Policy: PolicyProportional, N: 4, RateBitsPerSec: 100e6},
		PerSandbox: []float64{10e6, 20e6, 30e6, 40e6},
		Expected:   []float64{9.56e6, 19.12e6, 28.68e6, 38.24e6},
	}
	r.summarize()
	if r.ShareErr > 1e-9 || !r.Pass {
		t.Errorf("exact 1:2:3:4 shares: err %v pass %v", r.ShareErr, r.Pass)
	}
	if math.Abs(r.AggregateBits-100e6) > 1 || r.MedianBits != 25e6 {
		t.Errorf("aggregate %v median %v", r.AggregateBits, r.MedianBits)
	}
	var buf bytes.Buffer
	if err := WriteAccuracyTable(&buf, []AccuracyRow{r}); err != nil || !strings.Contains(buf.String(), "proportional") {
		t.Errorf("table: %v %q", err, buf.String())
	}
}

// TestMeasureAccuracy runs the shaping benchmark when FAASLAB_BENCH_SHAPING
// is "quick", "full" (~30 s / ~2.5 min) or a point list for
// ParseAccuracyPoints, and prints the table.
func TestMeasureAccuracy(t *testing.T) {
	mode := os.Getenv("FAASLAB_BENCH_SHAPING")
	if mode == "" {
		t.Skip("set FAASLAB_BENCH_SHAPING=quick|full to run the shaping accuracy benchmark")
	}
	requireRoot(t)
	requireIperf(t)
	pts, err := ParseAccuracyPoints(mode)
	if err != nil {
		t.Fatal(err)
	}
	cfg := AccuracyConfig{Points: pts, Tag: "t" + newTag()}
	t.Cleanup(func() { _ = removeTaggedNetNS(cfg.Tag) })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rows, err := MeasureAccuracy(ctx, cfg, testWriter{t})
	var buf bytes.Buffer
	_ = WriteAccuracyTable(&buf, rows)
	t.Logf("\n%s", buf.String())
	if err != nil {
		t.Errorf("measure: %v", err)
	}
	if len(rows) != len(cfg.Points) {
		t.Errorf("%d rows for %d points", len(rows), len(cfg.Points))
	}
	for _, name := range []string{"faaslab" + cfg.Tag + "h", "faaslab" + cfg.Tag + "r"} {
		if _, err := os.Stat(ns.NamedPath(name)); err == nil {
			t.Errorf("netns %s left behind", name)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
