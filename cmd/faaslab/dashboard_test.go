package main

// The Grafana dashboard (deploy/grafana/faaslab.json) is checked against what a running
// daemon exports: every PromQL expression of every panel, and the template variables'
// label_values queries, may name only metrics and labels the daemon's /metrics has.
// `make test-dashboard-broken` shows the check failing on a copy with a misspelt metric.

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaslab/faaslab/internal/promqlref"
)

const deployDashboard = "../../deploy/grafana/faaslab.json"

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // collapsed rows hold their panels
}

type dashboard struct {
	Panels     []dashboardPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"` // string or {"query": "..."}
		} `json:"list"`
	} `json:"templating"`
}

// dashboardExpr is one PromQL expression and where it sits.
type dashboardExpr struct{ where, expr string }

// labelValues matches Grafana's label_values(metric, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

func loadDashboardExprs(t *testing.T, path string) []dashboardExpr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []dashboardExpr
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				out = append(out, dashboardExpr{fmt.Sprintf("panel %q target %d", p.Title, i), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		sm := labelValues.FindStringSubmatch(q)
		if sm == nil {
			t.Fatalf("%s: variable %s: query %q is not label_values(metric, label)", path, v.Name, q)
		}
		// The same check as a selector: the metric must carry the label.
		out = append(out, dashboardExpr{"variable " + v.Name, fmt.Sprintf(`%s{%s=~".+"}`, sm[1], sm[2])})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no expressions", path)
	}
	return out
}

// checkDashboard fails the test for every expression of the dashboard at path that does
// not parse or names a metric or label g does not export.
func checkDashboard(t *testing.T, path string, g prometheus.Gatherer) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := promqlref.ExportedFrom(mfs)
	exprs := loadDashboardExprs(t, path)
	for _, e := range exprs {
		refs, err := promqlref.Parse(e.expr)
		if err != nil {
			t.Errorf("%s: %s: %v", path, e.where, err)
			continue
		}
		for _, err := range exported.Check(refs) {
			t.Errorf("%s: %s: %v", path, e.where, err)
		}
	}
	t.Logf("%s: %d expressions checked against %d exported metric families", path, len(exprs), len(mfs))
}

// TestDashboardExpressionsParse needs no daemon: every expression of the deployed
// dashboard parses and names faaslab metrics only.
func TestDashboardExpressionsParse(t *testing.T) {
	if _, err := os.Stat(deployDashboard); err != nil && os.Getenv("FAASLAB_VM") == "1" {
		t.Skip("the VM carries test binaries, not deploy/")
	}
	for _, e := range loadDashboardExprs(t, deployDashboard) {
		refs, err := promqlref.Parse(e.expr)
		if err != nil {
			t.Errorf("%s: %v", e.where, err)
			continue
		}
		for _, m := range refs.Metrics() {
			if !regexp.MustCompile(`^faaslab_`).MatchString(m) {
				t.Errorf("%s: metric %s is not faaslab's", e.where, m)
			}
		}
	}
}
