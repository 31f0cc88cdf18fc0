package faasbench

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faaslab/faaslab/experiments/faasbench/wire"
	"github.com/faaslab/faaslab/experiments/report"
	"github.com/faaslab/faaslab/experiments/stats"
)

// column is one CSV column: its name and how a call fills it.
type column struct {
	name string
	get  func(c *Call) string
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }
func btoa(b bool) string    { return strconv.FormatBool(b) }
func exchangeCols(p string, get func(c *Call) *wire.Exchange) []column {
	return []column{
		{p + "_header_bytes", func(c *Call) string { return itoa(get(c).HeaderBytes) }},
		{p + "_body_bytes", func(c *Call) string { return itoa(get(c).BodyBytes) }},
		{p + "_transmission_ms", func(c *Call) string { return ftoa(get(c).TransmissionMs()) }},
	}
}

// columns are calls.csv's columns, in order.
var columns = func() []column {
	cols := []column{
		{"workload", func(c *Call) string { return c.Workload }},
		{"kind", func(c *Call) string { return c.Kind }},
		{"target", func(c *Call) string { return c.Target }},
		{"seq", func(c *Call) string { return strconv.Itoa(c.Seq) }},
		{"uuid", func(c *Call) string { return c.UUID }},
		{"async", func(c *Call) string { return btoa(c.Async) }},
		{"words", func(c *Call) string { return strconv.Itoa(c.Words) }},
		{"wait_ms", func(c *Call) string { return ftoa(c.WaitMs) }},
		{"start", func(c *Call) string { return c.Start.UTC().Format(time.RFC3339Nano) }},
		{"status", func(c *Call) string { return c.Status }},
		{"http_status", func(c *Call) string { return strconv.Itoa(c.HTTPStatus) }},
		{"client_ms", func(c *Call) string { return ftoa(c.ClientMs) }},
		{"proxy_run_ms", func(c *Call) string { return ftoa(c.ProxyRunMs) }},
		{"target_run_ms", func(c *Call) string { return ftoa(c.TargetRunMs) }},
		{"target_timing", func(c *Call) string { return c.TargetTiming }},
		{"target_status", func(c *Call) string { return strconv.Itoa(c.TargetStatus) }},
	}
	cols = append(cols, exchangeCols("m1", func(c *Call) *wire.Exchange { return &c.M1 })...)
	cols = append(cols, exchangeCols("m2", func(c *Call) *wire.Exchange { return &c.M2 })...)
	cols = append(cols, column{"m2_request_ms", func(c *Call) string { return ftoa(c.M2LatencyMs) }})
	cols = append(cols, exchangeCols("m3", func(c *Call) *wire.Exchange { return &c.M3 })...)
	cols = append(cols, column{"m3_response_ms", func(c *Call) string { return ftoa(c.M3LatencyMs) }})
	cols = append(cols, exchangeCols("m4", func(c *Call) *wire.Exchange { return &c.M4 })...)
	return append(cols, []column{
		{"proxy_request_id", func(c *Call) string { return c.ProxyRequestID }},
		{"target_request_id", func(c *Call) string { return c.TargetRequestID }},
		{"proxy_start", func(c *Call) string { return c.ProxyStart }},
		{"target_start", func(c *Call) string { return c.TargetStart }},
		{"proxy_outcome", func(c *Call) string { return c.ProxyOutcome }},
		{"target_outcome", func(c *Call) string { return c.TargetOutcome }},
		{"proxy_billed_ms", func(c *Call) string { return itoa(c.ProxyBilledMs) }},
		{"target_billed_ms", func(c *Call) string { return itoa(c.TargetBilledMs) }},
		{"gateway_timeout", func(c *Call) string { return btoa(c.GatewayTimeout) }},
		{"target_result", func(c *Call) string { return c.TargetResult }},
		{"answer", func(c *Call) string { return c.Answer }},
		{"error", func(c *Call) string { return c.Error }},
	}...)
}()

// CSVWriter writes calls as CSV rows, flushing each, so a crash loses no finished call.
type CSVWriter struct{ w *csv.Writer }

// NewCSVWriter writes the header row.
func NewCSVWriter(w io.Writer) (*CSVWriter, error) {
	cw := &CSVWriter{w: csv.NewWriter(w)}
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	cw.w.Write(names)
	cw.w.Flush()
	return cw, cw.w.Error()
}

// Write adds one call.
func (cw *CSVWriter) Write(c Call) error {
	row := make([]string, len(columns))
	for i, col := range columns {
		row[i] = col.get(&c)
	}
	cw.w.Write(row)
	cw.w.Flush()
	return cw.w.Error()
}

// group is the successful synchronous calls of one workload, in spec order.
type group struct {
	name  string
	words int
	calls []*Call
}

func groups(calls []Call, onlyOK bool) []group {
	var out []group
	idx := map[string]int{}
	for i := range calls {
		c := &calls[i]
		if onlyOK && (c.Status != StatusSuccess || c.Async) {
			continue
		}
		j, ok := idx[c.Workload]
		if !ok {
			j = len(out)
			idx[c.Workload] = j
			out = append(out, group{name: c.Workload, words: c.Words})
		}
		out[j].calls = append(out[j].calls, c)
	}
	return out
}

func mean(cs []*Call, f func(*Call) float64) float64 {
	if len(cs) == 0 {
		return 0
	}
	var s float64
	for _, c := range cs {
		s += f(c)
	}
	return s / float64(len(cs))
}

// median is the project's one estimator (stats.Median) of f over cs; 0 for none.
func median(cs []*Call, f func(*Call) float64) float64 {
	if len(cs) == 0 {
		return 0
	}
	v := make([]float64, len(cs))
	for i, c := range cs {
		v[i] = f(c)
	}
	return stats.Median(v)
}

// KB is the paper's kilobyte; we take 1024 bytes.
const KB = 1024.0

func kb(f float64) string { return strconv.FormatFloat(f/KB, 'f', 2, 64) }
func ms(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// Table2 is the paper's Table 2: mean HTTP header and body size per measurement point, in
// KB, per workload (successful synchronous calls), and the total.
func Table2(calls []Call) string {
	header := []string{"workload", "words", "n", "m1 header", "m1 body", "m2 header", "m2 body",
		"m3 header", "m3 body", "m4 header", "m4 body"}
	var rows [][]string
	total := make([]float64, 8)
	for _, g := range groups(calls, true) {
		vals := []float64{
			mean(g.calls, func(c *Call) float64 { return float64(c.M1.HeaderBytes) }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M1.BodyBytes) }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M2.HeaderBytes) }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M2.BodyBytes) }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M3.HeaderBytes) }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M3.BodyBytes) }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M4.HeaderBytes) }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M4.BodyBytes) }),
		}
		row := []string{g.name, strconv.Itoa(g.words), strconv.Itoa(len(g.calls))}
		for i, v := range vals {
			row = append(row, kb(v))
			total[i] += v
		}
		rows = append(rows, row)
	}
	trow := []string{"**total**", "", ""}
	for _, v := range total {
		trow = append(trow, kb(v))
	}
	return report.MarkdownTable(header, append(rows, trow))
}

// Table3 is the paper's Table 3: size (KB) and time (ms) of the proxy → target request
// (m2) and the target → proxy response (m3), per workload, and the totals. "request ms"
// runs from the proxy's first request byte to the target's start (gateway, event, hand-
// over into the sandbox); "response ms" from the target's stop to the proxy's last
// response byte. "wire ms" is first to last byte on the proxy's socket.
func Table3(calls []Call) string {
	header := []string{"workload", "words", "n", "request (m2) KB", "request ms", "m2 wire ms",
		"response (m3) KB", "response ms", "m3 wire ms"}
	var rows [][]string
	var tot [6]float64
	for _, g := range groups(calls, true) {
		v := [6]float64{
			mean(g.calls, func(c *Call) float64 { return float64(c.M2.HeaderBytes + c.M2.BodyBytes) }),
			median(g.calls, func(c *Call) float64 { return c.M2LatencyMs }),
			median(g.calls, func(c *Call) float64 { return c.M2.TransmissionMs() }),
			mean(g.calls, func(c *Call) float64 { return float64(c.M3.HeaderBytes + c.M3.BodyBytes) }),
			median(g.calls, func(c *Call) float64 { return c.M3LatencyMs }),
			median(g.calls, func(c *Call) float64 { return c.M3.TransmissionMs() }),
		}
		for i := range v {
			tot[i] += v[i]
		}
		rows = append(rows, []string{g.name, strconv.Itoa(g.words), strconv.Itoa(len(g.calls)),
			kb(v[0]), ms(v[1]), ms(v[2]), kb(v[3]), ms(v[4]), ms(v[5])})
	}
	rows = append(rows, []string{"**total**", "", "", kb(tot[0]), ms(tot[1]), ms(tot[2]), kb(tot[3]), ms(tot[4]), ms(tot[5])})
	return report.MarkdownTable(header, rows)
}

// WriteTables writes Tables 2 and 3 of calls as markdown to path.
func WriteTables(path string, calls []Call) error {
	s := "## Table 2: size of HTTP messages per measurement point (KB = 1024 bytes, means)\n\n" + Table2(calls) +
		"\n## Table 3: transmission of requests (m2) and responses (m3) (KB, ms; times are medians)\n\n" + Table3(calls)
	return os.WriteFile(path, []byte(s), 0o644)
}

// SummaryTable is the terminal summary: per workload the statuses, client time and the
// bytes at m1–m4.
func SummaryTable(calls []Call) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tcalls\tsuccess\terror\ttimeout\tinvalid\tclient ms (median)\tm1 B\tm2 B\tm3 B\tm4 B\t")
	for _, g := range groups(calls, false) {
		n := map[string]int{}
		for _, c := range g.calls {
			n[c.Status]++
		}
		tot := func(f func(c *Call) int64) string {
			return strconv.FormatFloat(mean(g.calls, func(c *Call) float64 { return float64(f(c)) }), 'f', 0, 64)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", g.name, len(g.calls),
			n[StatusSuccess], n[StatusError], n[StatusTimeout], n[StatusInvalid],
			ms(median(g.calls, func(c *Call) float64 { return c.ClientMs })),
			tot(func(c *Call) int64 { return c.M1.HeaderBytes + c.M1.BodyBytes }),
			tot(func(c *Call) int64 { return c.M2.HeaderBytes + c.M2.BodyBytes }),
			tot(func(c *Call) int64 { return c.M3.HeaderBytes + c.M3.BodyBytes }),
			tot(func(c *Call) int64 { return c.M4.HeaderBytes + c.M4.BodyBytes }))
	}
	tw.Flush()
	return b.String()
}
