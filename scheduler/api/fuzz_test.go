package api

import (
	"strings"
	"testing"
)

// Function names, partial and full ARNs with qualifiers: a name that resolves is never
// empty, never holds ':' and only $LATEST (or no qualifier) resolves.
func FuzzResolveName(f *testing.F) {
	for _, s := range []string{"fn", "fn:$LATEST", "fn:1", "123456789012:function:fn", "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
		"arn:aws:lambda:us-east-1:123456789012:function:fn:prod", ":", "a:b:c:d:e", ""} {
		f.Add(s, "")
		f.Add(s, "$LATEST")
	}
	f.Fuzz(func(t *testing.T, raw, qualifier string) {
		name, ok := resolveName(raw, qualifier)
		if !ok {
			return
		}
		if strings.Contains(name, ":") || (qualifier != "" && qualifier != "$LATEST") {
			t.Errorf("resolveName(%q, %q) = %q", raw, qualifier, name)
		}
		if name == "" && raw != "" {
			t.Errorf("resolveName(%q, %q) resolved to an empty name", raw, qualifier)
		}
	})
}
