package netshape

import (
	"slices"
	"strings"
	"testing"
)

// Rules picked from `iptables -S` output always carry the tag as their comment, and a
// rule tagged otherwise is never picked.
func FuzzTaggedRules(f *testing.F) {
	f.Add("-A FORWARD -i faaslab0 -m comment --comment \"faaslab:faaslab0\" -j ACCEPT\n-A FORWARD -j DROP\n", "faaslab:faaslab0")
	f.Add("-P FORWARD DROP\n-A INPUT -s 10.0.0.0/8 -m comment --comment faaslab:x -j DROP", "faaslab:x")
	f.Add("-A\n--comment\n-A C --comment", "--comment")
	f.Fuzz(func(t *testing.T, listing, tag string) {
		for _, rule := range taggedRules(listing, tag) {
			i := slices.Index(rule, "--comment")
			if i < 0 || i+1 >= len(rule) || rule[i+1] != tag {
				t.Errorf("taggedRules picked %q for tag %q", rule, tag)
			}
			if strings.Contains(strings.Join(rule, " "), "\n") {
				t.Errorf("rule %q spans lines", rule)
			}
		}
	})
}
