// Package stats is the project's one set of summary statistics: the quantile estimator
// every benchmark, experiment analysis and report uses, Jain's fairness index and spread.
package stats

import (
	"math"
	"slices"
	"time"
)

// Quantile is the project's one quantile estimator: linear interpolation between the
// closest ranks (Hyndman & Fan type 7, the default of R, NumPy and spreadsheet
// PERCENTILE.INC). For n sorted values x[0..n-1] and p in [0,1], h = (n-1)·p and
// Q(p) = x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1]-x[⌊h⌋]). The median of an even count is the mean of
// the two middle values, and p5/p95 stay inside the data's range.
//
// Why not gonum's stat.Quantile(stat.LinInterp): that is type 4 (interpolated empirical
// CDF), whose median of {1, 2} is 1 — surprising for the small samples experiments have.
//
// xs need not be sorted and is not modified. An empty xs or p outside [0,1] gives NaN.
func Quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedQuantile(s, p)
}

func sortedQuantile(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Median is Quantile(xs, 0.5).
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

// Stat describes a sample: its size, median, p5, p95 and mean. A zero N means no data (the
// other fields are then NaN).
type Stat struct {
	N      int
	Median float64
	P5     float64
	P95    float64
	Mean   float64
}

// Describe computes a Stat with Quantile. NaN values are dropped.
func Describe(xs []float64) Stat {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		nan := math.NaN()
		return Stat{Median: nan, P5: nan, P95: nan, Mean: nan}
	}
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	return Stat{N: len(s), Median: sortedQuantile(s, 0.5), P5: sortedQuantile(s, 0.05),
		P95: sortedQuantile(s, 0.95), Mean: sum / float64(len(s))}
}

// Jain is Jain's fairness index (Σx)² / (n·Σx²): 1 when every x is equal, 1/n when one takes
// everything. Empty or all-zero input gives NaN.
func Jain(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if len(xs) == 0 || sq == 0 {
		return math.NaN()
	}
	return sum * sum / (float64(len(xs)) * sq)
}

// Spread is (max−min)/mean: how far apart values meant to be equal are. NaN when empty or
// the mean is zero.
func Spread(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	lo, hi, sum := xs[0], xs[0], 0.0
	for _, x := range xs {
		lo, hi, sum = min(lo, x), max(hi, x), sum+x
	}
	mean := sum / float64(len(xs))
	if mean == 0 {
		return math.NaN()
	}
	return (hi - lo) / mean
}

// Seconds converts durations to float64 seconds, for Quantile and friends.
func Seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// DurationQuantile is Quantile over durations.
func DurationQuantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return time.Duration(math.Round(Quantile(Seconds(ds), p) * float64(time.Second)))
}
