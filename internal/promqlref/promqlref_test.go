package promqlref

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		expr     string
		sel      map[string][]string
		grouping []string
	}{
		{`sum by (function) (rate(faaslab_sandbox_network_transmit_bytes_total{function=~"$function"}[$__rate_interval])) * 8`,
			map[string][]string{"faaslab_sandbox_network_transmit_bytes_total": {"function"}}, []string{"function"}},
		{`histogram_quantile(0.99, sum by (le, function) (rate(faaslab_invocation_duration_seconds_bucket[5m])))`,
			map[string][]string{"faaslab_invocation_duration_seconds_bucket": nil}, []string{"le", "function"}},
		{`faaslab_experiment_trials_done / ignoring(spec) faaslab_experiment_trials_planned`,
			map[string][]string{"faaslab_experiment_trials_done": nil, "faaslab_experiment_trials_planned": nil}, []string{"spec"}},
		{`rate(a{x="1", y!~'b.*'}[1m] offset 5m) > bool 1e-3 and on (x) group_left b{z="$v"}`,
			map[string][]string{"a": {"x", "y"}, "b": {"z"}}, []string{"x"}},
		{`sum(increase(faaslab_invocations_total{start="cold"}[${__range}]))`,
			map[string][]string{"faaslab_invocations_total": {"start"}}, nil},
	}
	for _, c := range cases {
		r, err := Parse(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if !reflect.DeepEqual(r.Selectors, c.sel) || !reflect.DeepEqual(r.Grouping, c.grouping) {
			t.Errorf("%s:\n got %v %v\nwant %v %v", c.expr, r.Selectors, r.Grouping, c.sel, c.grouping)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{`rate(x[1m]`, `x{a=}`, `{__name__="x"}`, `sum by function (x)`, `x{a="1"`, `x[1m`} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	exp := Exported{"faaslab_invocations_total": {"function", "outcome", "start"}, "faaslab_x_bucket": {"function", "le"}}
	ok, _ := Parse(`sum by (function, le) (rate(faaslab_x_bucket[1m])) / sum by (instance) (faaslab_invocations_total{start="cold"})`)
	if errs := exp.Check(ok); len(errs) != 0 {
		t.Errorf("valid expression: %v", errs)
	}
	for _, bad := range []string{`faaslab_invocation_total`, `faaslab_invocations_total{sandbox="x"}`, `sum by (sandbox) (faaslab_invocations_total)`} {
		r, err := Parse(bad)
		if err != nil {
			t.Fatal(err)
		}
		if errs := exp.Check(r); len(errs) != 1 {
			t.Errorf("%s: %v, want one error", bad, errs)
		}
	}
}
