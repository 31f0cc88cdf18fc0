// Package report writes a run directory's outputs from its recorded files: summary.csv,
// the paper's figures as SVG and PNG, and report.md with a paper-vs-measured table and
// automatic trend checks. It reruns nothing: everything comes from experiments/analyze.
package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/faaslab/faaslab/experiments/analyze"
	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/stats"
)

// Output file names inside a run directory.
const (
	SummaryFile = "summary.csv"
	ReportFile  = "report.md"
)

// Summary is what Write found: the spec, where the report is, and its trend checks.
type Summary struct {
	Spec   string
	Dir    string
	Checks []Check
}

// Check is one automatic trend check.
type Check struct {
	Name      string
	Pass      bool
	Detail    string // the numbers behind the verdict
	Explained string // when failing: what on this machine accounts for it ("" = nothing known)
}

// Failed counts the failing checks.
func (s Summary) Failed() int { return s.count(func(c Check) bool { return !c.Pass }) }

// Unexplained counts the failing checks that nothing measured on this machine accounts for.
func (s Summary) Unexplained() int {
	return s.count(func(c Check) bool { return !c.Pass && c.Explained == "" })
}

func (s Summary) count(match func(Check) bool) int {
	n := 0
	for _, c := range s.Checks {
		if match(c) {
			n++
		}
	}
	return n
}

// Write analyzes run and writes summary.csv, the figures and report.md into dir (created
// if missing; usually the run directory itself).
func Write(run *record.Run, dir string) (Summary, error) {
	a, err := analyze.Analyze(run)
	if err != nil {
		return Summary{}, fmt.Errorf("analyze %s: %w", run.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, err
	}
	var csv bytes.Buffer
	header, rows := a.Table()
	if err := WriteCSV(&csv, header, rows); err != nil {
		return Summary{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), csv.Bytes(), 0o644); err != nil {
		return Summary{}, err
	}
	figs := figures(a)
	for _, f := range figs {
		if err := f.WriteFiles(dir); err != nil {
			return Summary{}, err
		}
	}
	e := evaluate(run, a)
	md := markdown(run, a, e, figs)
	if err := os.WriteFile(filepath.Join(dir, ReportFile), []byte(md), 0o644); err != nil {
		return Summary{}, err
	}
	return Summary{Spec: a.Spec, Dir: dir, Checks: e.checks}, nil
}

func markdown(run *record.Run, a *analyze.Analysis, e evaluation, figs []Figure) string {
	m := run.Manifest
	var b strings.Builder
	fmt.Fprintf(&b, "# %s — run %s\n\n", m.Spec, m.RunID)
	finished := 0
	for _, p := range a.Points {
		finished += p.Reps
	}
	scale := "full"
	if m.Quick {
		scale = "quick"
	}
	b.WriteString(MarkdownTable([]string{"", ""}, [][]string{
		{"spec", m.Spec + " (" + scale + " scale)"},
		{"git revision", m.GitRevision},
		{"kernel / cgroup", fmt.Sprintf("%s / v%d", m.Kernel, m.CgroupVersion)},
		{"profile / backend", m.Profile + " / " + m.Backend},
		{"endpoints", strings.Join(m.Endpoints, ", ")},
		{"started / finished", m.StartedAt.Format("2006-01-02 15:04:05 MST") + " / " + m.FinishedAt.Format("2006-01-02 15:04:05 MST")},
		{"trials", fmt.Sprintf("%d planned, %d finished", len(m.Trials), finished)},
	}))
	if len(m.Reused) > 0 {
		var from []string
		for _, src := range m.Reused {
			if run, _, _ := strings.Cut(src, " "); !slices.Contains(from, run) {
				from = append(from, run)
			}
		}
		slices.Sort(from)
		verb := "were"
		if len(m.Reused) == 1 {
			verb = "was"
		}
		fmt.Fprintf(&b, "\n%d of the %d trials %s measured earlier in the same command, by %s; the records are copied here (manifest.json `reused`).\n",
			len(m.Reused), len(m.Trials), verb, strings.Join(from, ", "))
	}
	if len(m.Unhonoured) > 0 {
		b.WriteString("\n**This machine could not honour the profile:**\n\n")
		for _, u := range m.Unhonoured {
			b.WriteString("- " + u + "\n")
		}
	} else {
		b.WriteString("\nThis machine honoured the profile.\n")
	}

	b.WriteString("\n## Trend checks\n\n")
	if len(e.checks) == 0 {
		b.WriteString("No trend check applies to this spec's shape.\n")
	} else {
		rows := make([][]string, len(e.checks))
		for i, c := range e.checks {
			rows[i] = []string{verdict(c), c.Name, c.Detail, c.Explained}
		}
		b.WriteString(MarkdownTable([]string{"result", "check", "numbers", "explained by this machine"}, rows))
	}
	if len(e.paper) > 0 {
		b.WriteString("\n## Paper vs measured\n\n")
		b.WriteString(MarkdownTable([]string{"figure", "quantity", "paper", "measured"}, e.paper))
	}
	b.WriteString("\n## Points\n\nMedians with [p5–p95]; bandwidth in MB/s (10⁶ bytes); per-function and aggregate bandwidth from the host counters over each trial's transfer window, beside the clients' own numbers. All columns in base units are in `" + SummaryFile + "`.\n\n")
	b.WriteString(pointsTable(a))
	if len(figs) > 0 {
		b.WriteString("\n## Figures\n\nBars: medians with p5–p95 whiskers (left axis); line: right axis.\n\n")
		for _, f := range figs {
			fmt.Fprintf(&b, "![%s](%s.png)\n\n", f.Title, f.Name)
		}
	}
	b.WriteString("\n## Definitions\n\n" + definitions)
	return b.String()
}

const definitions = `- download (upload) time: one invocation's transfer time as its handler measured it.
- response time: the whole parallel job, from the barrier's release to the last answer.
- aggregated time: the sum of a trial's transfer times (what the paper says is billed).
- billed GB-s: Σ billed duration × configured memory; normalized cost divides the median by
  the series' first point (e.g. 128 MB or N = 1).
- Jain's index: (Σx)²/(n·Σx²) over the trial's per-function bandwidths (1 = equal shares).
- quantiles: linear interpolation between closest ranks (Hyndman–Fan type 7).
`

func verdict(c Check) string {
	switch {
	case c.Pass:
		return "PASS"
	case c.Explained != "":
		return "FAIL (explained)"
	}
	return "FAIL"
}

func statCell(s stats.Stat, scale float64, digits int) string {
	if s.N == 0 {
		return ""
	}
	f := fmt.Sprintf("%%.%df", digits)
	return fmt.Sprintf(f+" ["+f+"–"+f+"]", s.Median/scale, s.P5/scale, s.P95/scale)
}

func pointsTable(a *analyze.Analysis) string {
	header := []string{"series", "point", "reps", "download s", "response s", "aggregated s", "fn MB/s counters",
		"fn MB/s clients", "aggregate MB/s counters (peak)", "aggregate MB/s clients", "Jain", "throttled %", "billed GB-s", "cost ×"}
	var rows [][]string
	for _, s := range a.Series() {
		for _, p := range s.Points {
			peak := ""
			if p.AggBWPeak.N > 0 {
				peak = fmt.Sprintf(" (%.1f)", p.AggBWPeak.Median/1e6)
			}
			rows = append(rows, []string{Label(p.Trial), PointName(p), fmt.Sprint(p.Reps),
				statCell(p.Download, 1, 3), statCell(p.Response, 1, 3), statCell(p.Aggregated, 1, 2),
				statCell(p.FnBWCounter, 1e6, 1), statCell(p.FnBWClient, 1e6, 1),
				statCell(p.AggBWMean, 1e6, 1) + peak, statCell(p.AggBWClient, 1e6, 1),
				statCell(p.Jain, 1, 3), statCell(p.Throttled, 0.01, 0), statCell(p.BilledGBs, 1, 3), fmt.Sprintf("%.2f", p.CostNorm)})
		}
	}
	return MarkdownTable(header, rows)
}

// PointName is a point's co-location and workload size, e.g. "26 × 128 MB" or
// "1 × 1024 MB, 10 × 20 MB objects".
func PointName(p analyze.Point) string {
	t := p.Trial
	var s string
	if mixed(t.MemoryMB) {
		s = p.Memory() + " MB"
	} else {
		s = fmt.Sprintf("%d × %d MB", t.N(), t.MemoryMB[0])
	}
	if t.Objects > 0 {
		s += fmt.Sprintf(", %d × %d MB objects", t.Objects, t.ObjectMB)
	}
	if t.Seconds > 0 {
		s += fmt.Sprintf(", %g s", t.Seconds)
	}
	return s
}

// Compare writes a markdown table of the same points side by side across runs (matched on
// their parameters): median download and response time, the counters' aggregate bandwidth
// and Jain's index.
func Compare(runs []*record.Run, out io.Writer) error {
	type col struct {
		name   string
		points map[string]analyze.Point
	}
	var cols []col
	var keys []string
	names := map[string]string{}
	for _, r := range runs {
		a, err := analyze.Analyze(r)
		if err != nil {
			return fmt.Errorf("analyze %s: %w", r.Dir, err)
		}
		c := col{name: r.Manifest.Spec + "/" + r.Manifest.RunID, points: map[string]analyze.Point{}}
		for _, p := range a.Points {
			if _, ok := names[p.Key]; !ok {
				keys = append(keys, p.Key)
				names[p.Key] = Label(p.Trial) + ", " + PointName(p)
			}
			c.points[p.Key] = p
		}
		cols = append(cols, c)
	}
	header := []string{"point"}
	for _, c := range cols {
		header = append(header, c.name+" download s", "response s", "aggregate MB/s", "Jain")
	}
	var rows [][]string
	for _, k := range keys {
		row := []string{names[k]}
		for _, c := range cols {
			p, ok := c.points[k]
			if !ok {
				row = append(row, "—", "—", "—", "—")
				continue
			}
			agg, _ := counterOr(p.AggBWMean, p.AggBWClient)
			row = append(row, fmt.Sprintf("%.3f", p.Download.Median), fmt.Sprintf("%.3f", p.Response.Median),
				fmt.Sprintf("%.1f", agg/1e6), fmt.Sprintf("%.3f", p.Jain.Median))
		}
		rows = append(rows, row)
	}
	for _, r := range runs {
		fmt.Fprintf(out, "- %s/%s: %s\n", r.Manifest.Spec, r.Manifest.RunID, r.Dir)
	}
	_, err := io.WriteString(out, "\n"+MarkdownTable(header, rows))
	return err
}

// PrintChecks prints the trend checks of several reports as a terminal table (what
// `make run` ends with) followed by where the reports are, and returns how many failed.
func PrintChecks(w io.Writer, sums []Summary) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SPEC\tRESULT\tCHECK\tNUMBERS")
	failed := 0
	for _, s := range sums {
		if len(s.Checks) == 0 {
			fmt.Fprintf(tw, "%s\t-\t(no trend check for this spec)\t\n", s.Spec)
		}
		for _, c := range s.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Spec, verdict(c), c.Name, c.Detail)
			if !c.Pass {
				failed++
				if c.Explained != "" {
					fmt.Fprintf(tw, "\t\t  why: %s\t\n", c.Explained)
				}
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nreports:")
	for _, s := range sums {
		fmt.Fprintf(w, "  %s\t%s\n", s.Spec, filepath.Join(s.Dir, ReportFile))
	}
	return failed
}
