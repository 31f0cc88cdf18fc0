package probe

import (
	"bytes"
	"testing"
)

func TestPrintMarksMissingAndKeepsNotes(t *testing.T) {
	var b bytes.Buffer
	Print(&b, Section{Title: "tc", Notes: []string{"qdiscs  have: htb"}, Checks: []Check{
		{Name: "policy none", OK: true, Detail: "available"},
		{Name: "policy netprio", Detail: "needs net_prio"},
	}})
	want := "tc:\n  qdiscs  have: htb\n  [ok  ] policy none                  available\n  [MISS] policy netprio               needs net_prio\n"
	if b.String() != want {
		t.Errorf("Print:\n%s\nwant:\n%s", b.String(), want)
	}
	if c := Tool("faaslab-no-such-tool", "why"); c.OK || c.Detail != "why" {
		t.Errorf("Tool of a missing program = %+v", c)
	}
}
