package report

import (
	"encoding/csv"
	"io"
	"strings"
)

// WriteCSV writes a header and rows as CSV (RFC 4180 quoting).
func WriteCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// MarkdownTable renders a GitHub-flavoured markdown table. Cells may hold anything: '|' is
// escaped and newlines become spaces, so a cell never breaks the table.
func MarkdownTable(header []string, rows [][]string) string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i := range header {
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			cell = strings.ReplaceAll(strings.ReplaceAll(cell, "|", `\|`), "\n", " ")
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}
