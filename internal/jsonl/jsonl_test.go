package jsonl

import (
	"strings"
	"testing"
)

// ReadLines reads lines of any length from any reader, skips a torn last line and names
// the source and line of a corrupt one in the middle.
func TestReadLinesLongLinesTornTailAndCorruptMiddle(t *testing.T) {
	type rec struct {
		ID  string `json:"id"`
		Log string `json:"log"`
	}
	long := strings.Repeat("x", 3<<20) // beyond bufio.Scanner's and the reader's buffers
	doc := `{"id":"a","log":"` + long + `"}` + "\n" + `{"id":"b"}` + "\n" + `{"id":"c","lo`
	var got []rec
	if err := ReadLines(strings.NewReader(doc), "records.jsonl", func(r rec) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a" || len(got[0].Log) != len(long) || got[1].ID != "b" {
		t.Errorf("got %d records, want a (with its %d-byte log) and b", len(got), len(long))
	}
	err := ReadLines(strings.NewReader("{}\n{not json}\n{}\n"), "records.jsonl", func(rec) {})
	if err == nil || !strings.Contains(err.Error(), "records.jsonl line 2") {
		t.Errorf("corrupt middle line: got %v, want an error naming records.jsonl line 2", err)
	}
}
