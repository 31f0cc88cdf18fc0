// Package promqlref finds what a PromQL expression refers to: metric names, the label
// names of each selector, and the labels of by/without/on/ignoring/group_* clauses.
//
// It is a lexer with a little state, not a PromQL parser (the parser lives in the
// prometheus/prometheus module, whose dependency graph is far larger than this project's).
// It is exact for the PromQL a dashboard uses: instant and range selectors with label
// matchers, function calls, aggregations with grouping clauses, binary operators with
// vector matching, numbers, durations, offsets and Grafana template variables ($var,
// ${var}, [$__rate_interval]). It rejects what it does not understand (unbalanced
// brackets, a matcher without a value) instead of guessing.
package promqlref

import (
	"fmt"
	"slices"
	"strings"
)

// Refs is what one expression names.
type Refs struct {
	// Selectors maps each metric name to the label names its matchers use (all
	// selectors of that metric together).
	Selectors map[string][]string
	// Grouping are the labels of by, without, on, ignoring, group_left and group_right.
	Grouping []string
}

// Metrics returns the metric names, sorted.
func (r Refs) Metrics() []string {
	out := make([]string, 0, len(r.Selectors))
	for m := range r.Selectors {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// keywords are identifiers that are never metric names.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
	"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true, "atan2": true,
}

// groupingKeywords are followed by a parenthesised label list.
var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number/duration/variable, 'p' punctuation
	text string
}

// Parse returns what expr refers to.
func Parse(expr string) (Refs, error) {
	toks, err := lex(expr)
	if err != nil {
		return Refs{}, err
	}
	refs := Refs{Selectors: map[string][]string{}}
	depth := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := token{}
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		switch {
		case t.kind == 'p' && t.text == "(":
			depth++
		case t.kind == 'p' && t.text == ")":
			depth--
			if depth < 0 {
				return Refs{}, fmt.Errorf("%q: unbalanced )", expr)
			}
		case t.kind == 'p' && t.text == "{":
			// A selector without a metric name ({__name__=...}): not used by our dashboards.
			return Refs{}, fmt.Errorf("%q: selector without a metric name", expr)
		case t.kind == 'i' && groupingKeywords[t.text]:
			if next.text != "(" {
				if t.text == "group_left" || t.text == "group_right" {
					continue // no extra labels
				}
				return Refs{}, fmt.Errorf("%q: %s needs a label list", expr, t.text)
			}
			labels, end, err := labelList(toks, i+1)
			if err != nil {
				return Refs{}, fmt.Errorf("%q: %w", expr, err)
			}
			refs.Grouping = append(refs.Grouping, labels...)
			i = end
		case t.kind == 'i' && t.text == "offset":
			i++ // the duration
		case t.kind == 'i' && keywords[strings.ToLower(t.text)]:
		case t.kind == 'i' && (next.text == "(" || next.text == "by" || next.text == "without"):
			// A function or aggregation call ("sum by (x) (...)"); its arguments follow.
		case t.kind == 'i':
			labels := refs.Selectors[t.text]
			if next.text == "{" {
				ls, end, err := matchers(toks, i+1)
				if err != nil {
					return Refs{}, fmt.Errorf("%q: %s: %w", expr, t.text, err)
				}
				labels = append(labels, ls...)
				i = end
			}
			refs.Selectors[t.text] = labels
		}
	}
	if depth != 0 {
		return Refs{}, fmt.Errorf("%q: unbalanced (", expr)
	}
	for m, ls := range refs.Selectors {
		if len(ls) == 0 {
			refs.Selectors[m] = nil
			continue
		}
		slices.Sort(ls)
		refs.Selectors[m] = slices.Compact(ls)
	}
	return refs, nil
}

// labelList reads "( a, b, ... )" starting at toks[open]; it returns the labels and the
// index of ")".
func labelList(toks []token, open int) ([]string, int, error) {
	var out []string
	for i := open + 1; i < len(toks); i++ {
		switch t := toks[i]; {
		case t.text == ")":
			return out, i, nil
		case t.text == ",":
		case t.kind == 'i':
			out = append(out, t.text)
		default:
			return nil, 0, fmt.Errorf("unexpected %q in a label list", t.text)
		}
	}
	return nil, 0, fmt.Errorf("unterminated label list")
}

// matchers reads "{ name op "value", ... }" starting at toks[open]; it returns the label
// names and the index of "}".
func matchers(toks []token, open int) ([]string, int, error) {
	var out []string
	for i := open + 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.text == "}":
			return out, i, nil
		case t.text == ",":
		case t.kind == 'i':
			if i+2 >= len(toks) || !slices.Contains([]string{"=", "!=", "=~", "!~"}, toks[i+1].text) || toks[i+2].kind != 's' {
				return nil, 0, fmt.Errorf("matcher %s needs an operator and a quoted value", t.text)
			}
			out = append(out, t.text)
			i += 2
		default:
			return nil, 0, fmt.Errorf("unexpected %q in a selector", t.text)
		}
	}
	return nil, 0, fmt.Errorf("unterminated selector")
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// lex splits expr into tokens; ranges and subqueries ([5m], [$__rate_interval], [1h:1m])
// are skipped whole.
func lex(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // comment to end of line
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("%q: unterminated string", expr)
			}
			toks = append(toks, token{'s', expr[i+1 : j]})
			i = j + 1
		case c == '[':
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("%q: unterminated range", expr)
			}
			toks = append(toks, token{'n', expr[i : i+j+1]})
			i += j + 1
		case c == '$':
			j := i + 1
			if j < len(expr) && expr[j] == '{' {
				k := strings.IndexByte(expr[j:], '}')
				if k < 0 {
					return nil, fmt.Errorf("%q: unterminated ${", expr)
				}
				j += k + 1
			} else {
				for j < len(expr) && isIdent(expr[j]) {
					j++
				}
			}
			toks = append(toks, token{'n', expr[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			toks = append(toks, token{'i', expr[i:j]})
			i = j
		case (c >= '0' && c <= '9') || c == '.':
			j := i
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == '.' ||
				((expr[j] == '+' || expr[j] == '-') && (expr[j-1] == 'e' || expr[j-1] == 'E'))) {
				j++
			}
			toks = append(toks, token{'n', expr[i:j]})
			i = j
		default:
			for _, op := range []string{"!=", "=~", "!~", "==", ">=", "<=", "(", ")", "{", "}", ",", "=", "+", "-", "*", "/", "%", "^", "<", ">", "@"} {
				if strings.HasPrefix(expr[i:], op) {
					toks = append(toks, token{'p', op})
					i += len(op)
					goto next
				}
			}
			return nil, fmt.Errorf("%q: unexpected %q", expr, c)
		next:
		}
	}
	return toks, nil
}
