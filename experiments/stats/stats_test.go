package stats

import (
	"math"
	"testing"
	"time"
)

func TestQuantileIsType7(t *testing.T) {
	xs := []float64{4, 1, 3, 2} // unsorted on purpose
	for _, c := range []struct{ p, want float64 }{{0, 1}, {0.05, 1.15}, {0.5, 2.5}, {0.95, 3.85}, {1, 4}} {
		if got := Quantile(xs, c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v, %g) = %g, want %g", xs, c.p, got, c.want)
		}
	}
	if xs[0] != 4 {
		t.Error("Quantile sorted its input in place")
	}
	if got := Median([]float64{1, 2}); got != 1.5 {
		t.Errorf("median of {1,2} = %g, want 1.5", got)
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(Quantile(xs, 1.5)) {
		t.Error("empty input or p outside [0,1] must give NaN")
	}
	s := Describe([]float64{7, math.NaN()})
	if s.N != 1 || s.Median != 7 || s.P5 != 7 || s.P95 != 7 || s.Mean != 7 {
		t.Errorf("Describe of one value (NaN dropped) = %+v", s)
	}
}

func TestJainAndSpread(t *testing.T) {
	if j := Jain([]float64{3, 3, 3}); math.Abs(j-1) > 1e-12 {
		t.Errorf("Jain of equal shares = %g, want 1", j)
	}
	if j := Jain([]float64{8, 0, 0, 0}); math.Abs(j-0.25) > 1e-12 {
		t.Errorf("Jain when one takes all of 4 = %g, want 0.25", j)
	}
	if s := Spread([]float64{90, 100, 110}); math.Abs(s-0.2) > 1e-12 {
		t.Errorf("Spread = %g, want 0.2", s)
	}
}

func TestDurationQuantile(t *testing.T) {
	ds := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	if got := DurationQuantile(ds, 0.5); got != 2500*time.Microsecond {
		t.Errorf("median of 1..4 ms = %v, want 2.5ms", got)
	}
	if got := DurationQuantile(nil, 0.5); got != 0 {
		t.Errorf("median of nothing = %v, want 0", got)
	}
}
