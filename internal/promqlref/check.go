package promqlref

import (
	"fmt"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Exported is what a scrape target exports: metric family name → label names (the union
// over its samples).
type Exported map[string][]string

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

// ExportedFrom indexes gathered metric families.
func ExportedFrom(mfs []*dto.MetricFamily) Exported {
	exp := Exported{}
	for _, mf := range mfs {
		var labels []string
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName())
			}
		}
		slices.Sort(labels)
		exp[mf.GetName()] = slices.Compact(labels)
		if mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY {
			exp[mf.GetName()+"_sum"] = exp[mf.GetName()]
			exp[mf.GetName()+"_count"] = exp[mf.GetName()]
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			exp[mf.GetName()+"_bucket"] = append(slices.Clone(exp[mf.GetName()]), "le")
		}
	}
	return exp
}

// Check returns one error for every metric, selector label or grouping label of r that
// the target does not export. A grouping label must exist on at least one metric of the
// expression.
func (exp Exported) Check(r Refs) []error {
	var errs []error
	var all []string
	for _, m := range r.Metrics() {
		labels, ok := exp[m]
		if !ok {
			errs = append(errs, fmt.Errorf("metric %s is not exported%s", m, suggest(exp, m)))
			continue
		}
		all = append(all, labels...)
		for _, l := range r.Selectors[m] {
			if !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
				errs = append(errs, fmt.Errorf("metric %s has no label %q (it has %v)", m, l, labels))
			}
		}
	}
	for _, l := range r.Grouping {
		if len(all) > 0 && !slices.Contains(all, l) && !slices.Contains(targetLabels, l) {
			errs = append(errs, fmt.Errorf("grouping label %q is on none of %v", l, r.Metrics()))
		}
	}
	return errs
}

// suggest names an exported metric sharing the longest prefix, to make a typo obvious.
func suggest(exp Exported, m string) string {
	best, n := "", 0
	for name := range exp {
		k := 0
		for k < len(name) && k < len(m) && name[k] == m[k] {
			k++
		}
		if k > n && strings.HasPrefix(name, "faaslab_") {
			best, n = name, k
		}
	}
	if best == "" {
		return ""
	}
	return " (closest: " + best + ")"
}
