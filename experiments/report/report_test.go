package report_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/experiments/analyze"
	"github.com/faaslab/faaslab/experiments/internal/runfixture"
	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/report"
)

var specs = []string{"fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "policies", "today"}

func write(t *testing.T, spec string, rate runfixture.Rate) (report.Summary, string) {
	t.Helper()
	dir := t.TempDir()
	if err := runfixture.Write(dir, runfixture.Build(spec, runfixture.Plan(spec), rate)); err != nil {
		t.Fatal(err)
	}
	run, err := record.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := report.Write(run, dir)
	if err != nil {
		t.Fatal(err)
	}
	return sum, dir
}

// A run that follows the paper passes every check; each figure's violating run fails the
// check that names its trend.
func TestChecksPassOnThePaperAndFailOnViolations(t *testing.T) {
	mustFail := map[string][]string{
		"fig2":     {"bandwidth flat across memory"},
		"fig4":     {"download time falls with memory", "roughly halves the download time"},
		"fig5":     {"aggregate bandwidth flat across N"},
		"fig6":     {"download time grows with N"},
		"fig7":     {"response time stops improving at N=16–N=26 while cost rises"},
		"policies": {"proportional 128+512+1024+2048 MB: bandwidth ∝ memory", "equal 128+512+1024+2048 MB: equal shares"},
		"today":    {"s3get cpu lambda: download time falls with memory", "the paper's conclusions still hold under cpu_model lambda"},
	}
	for _, spec := range specs {
		t.Run(spec, func(t *testing.T) {
			good, _ := write(t, spec, runfixture.Paper)
			if len(good.Checks) == 0 {
				t.Fatal("no checks")
			}
			for _, c := range good.Checks {
				if !c.Pass {
					t.Errorf("paper-shaped run failed %q: %s", c.Name, c.Detail)
				}
				if c.Detail == "" || !strings.ContainsAny(c.Detail, "0123456789") {
					t.Errorf("check %q has no numbers: %q", c.Name, c.Detail)
				}
			}
			bad, _ := write(t, spec, runfixture.Broken)
			for _, want := range mustFail[spec] {
				found := false
				for _, c := range bad.Checks {
					if strings.Contains(c.Name, want) {
						found = true
						if c.Pass {
							t.Errorf("violating run passed %q: %s", c.Name, c.Detail)
						}
					}
				}
				if !found {
					t.Errorf("no check named like %q in %v", want, names(bad.Checks))
				}
			}
		})
	}
}

func names(cs []report.Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// The files hold the computed numbers: summary.csv is the analysis table, report.md carries
// every check's numbers and the paper's, and every figure it links exists as PNG and SVG.
func TestWriteFilesHoldTheNumbers(t *testing.T) {
	sum, dir := write(t, "fig5", runfixture.Paper)
	run, _ := record.Load(dir)
	a, _ := analyze.Analyze(run)
	var want bytes.Buffer
	h, rows := a.Table()
	report.WriteCSV(&want, h, rows)
	got, err := os.ReadFile(filepath.Join(dir, report.SummaryFile))
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Errorf("summary.csv is not the analysis table (err %v)", err)
	}
	if !bytes.Contains(got, []byte("agg_bw_counter_mean_Bps_median")) || !bytes.Contains(got, []byte(analyze.Num(a.Points[3].AggBWMean.Median))) {
		t.Error("summary.csv lacks the counters' aggregate")
	}
	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sum.Checks {
		if !bytes.Contains(md, []byte(c.Detail)) {
			t.Errorf("report.md lacks the numbers of %q: %s", c.Name, c.Detail)
		}
	}
	// N=26: 70 MB/s shared, 2.7 MB/s each.
	for _, s := range []string{"| PASS |", "constant (the NIC)", "70.0 MB/s", "2.7 MB/s", "This machine honoured the profile"} {
		if !bytes.Contains(md, []byte(s)) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	links := 0
	for _, line := range strings.Split(string(md), "\n") {
		if !strings.HasPrefix(line, "![") {
			continue
		}
		links++
		name := strings.TrimSuffix(line[strings.Index(line, "](")+2:], ")")
		checkPNG(t, filepath.Join(dir, name))
		svg, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(name, ".png")+".svg"))
		if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("aggregate")) {
			t.Errorf("%s.svg: err %v, %d bytes", name, err, len(svg))
		}
	}
	if links != 1 {
		t.Errorf("report.md links %d figures, want 1 for fig5", links)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	b := img.Bounds()
	if b.Dx() < 500 || b.Dy() < 300 {
		t.Errorf("%s is %dx%d, want at least 500x300", path, b.Dx(), b.Dy())
	}
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r, g, bl}] = true
		}
	}
	if len(colours) < 3 {
		t.Errorf("%s has %d colours: nothing drawn", path, len(colours))
	}
}

func TestEveryFigureRenders(t *testing.T) {
	for _, spec := range specs {
		_, dir := write(t, spec, runfixture.Paper)
		pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		svgs, _ := filepath.Glob(filepath.Join(dir, "*.svg"))
		if len(pngs) == 0 || len(pngs) != len(svgs) {
			t.Errorf("%s: %d PNG, %d SVG", spec, len(pngs), len(svgs))
		}
		for _, p := range pngs {
			checkPNG(t, p)
		}
	}
}

// What the machine could not honour is in the report and explains a failing check.
func TestUnhonouredProfileExplainsFailures(t *testing.T) {
	run := runfixture.Build("fig5", runfixture.Plan("fig5"), runfixture.Broken)
	run.Manifest.Unhonoured = []string{"host has 2 cores, c3.large × 26 functions asks for 2.2"}
	dir := t.TempDir()
	sum, err := report.Write(run, dir)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if !bytes.Contains(md, []byte("could not honour the profile")) || !bytes.Contains(md, []byte("host has 2 cores")) {
		t.Error("report.md does not say what the machine could not honour")
	}
	var out bytes.Buffer
	failed := report.PrintChecks(&out, []report.Summary{sum})
	if failed != sum.Failed() || failed == 0 {
		t.Errorf("PrintChecks counted %d failures, summary %d", failed, sum.Failed())
	}
	for _, c := range sum.Checks {
		if !c.Pass && !strings.Contains(c.Explained, "host has 2 cores") {
			t.Errorf("failing %q not explained by the unhonoured profile: %q", c.Name, c.Explained)
		}
	}
	for _, s := range []string{"FAIL (explained)", "why: this machine could not honour", filepath.Join(dir, "report.md")} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("terminal table lacks %q:\n%s", s, out.String())
		}
	}
}

func TestCompareSideBySide(t *testing.T) {
	a := runfixture.Build("fig5", runfixture.Plan("fig5"), runfixture.Paper)
	b := runfixture.Build("fig5", runfixture.Plan("fig5")[:4], runfixture.Broken) // N = 1, 2 only
	b.Manifest.RunID = "other"
	var out bytes.Buffer
	if err := report.Compare([]*record.Run{a, b}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"fig5/fixture-fig5 download s", "fig5/other download s", "26 × 128 MB", "| 70.0 |", "| 20.0 |", "| — |"} {
		if !strings.Contains(s, want) {
			t.Errorf("compare output lacks %q:\n%s", want, s)
		}
	}
}

func TestTables(t *testing.T) {
	md := report.MarkdownTable([]string{"a", "b"}, [][]string{{"x|y", "two\nlines"}, {"short"}})
	want := "| a | b |\n| --- | --- |\n| x\\|y | two lines |\n| short |  |\n"
	if md != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", md, want)
	}
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, []string{"name", "v"}, [][]string{{`a,"b"`, "1"}}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "name,v\n\"a,\"\"b\"\"\",1\n" {
		t.Errorf("csv %q", got)
	}
}

// Under the explicit drop-tail FIFO NIC model the per-function share is shown, not checked.
func TestFifoSharingIsShownNotChecked(t *testing.T) {
	plan := runfixture.Plan("fig5")
	for i := range plan {
		plan[i].NICQueue = "fifo"
	}
	unfair := func(tr record.Trial, w int) float64 { // one flow takes half, the rest share
		switch {
		case tr.N() == 1:
			return runfixture.NIC
		case w == 0:
			return runfixture.NIC / 2
		}
		return runfixture.NIC / 2 / float64(tr.N()-1)
	}
	dir := t.TempDir()
	sum, err := report.Write(runfixture.Build("fig5", plan, unfair), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sum.Checks {
		if strings.Contains(c.Name, "aggregate/N") {
			t.Errorf("fifo series checked for fair shares: %q", c.Name)
		}
		if !c.Pass {
			t.Errorf("%q failed: %s", c.Name, c.Detail)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, report.ReportFile))
	if !bytes.Contains(md, []byte("drop-tail FIFO sharing at N=26")) || !bytes.Contains(md, []byte("Jain 0.")) {
		t.Error("report.md does not show the FIFO's sharing with its Jain index")
	}
}
