package runtime

import (
	"strings"
	"testing"
)

// The Runtime API's invocation routes: whatever the path, a split either fails or gives
// an id without '/' and one of the two answer kinds, which rebuild the path exactly.
func FuzzCutInvocationPath(f *testing.F) {
	for _, s := range []string{"abc/response", "abc/error", "a/b/response", "/response", "abc/", "abc/next", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, kind, ok := cutInvocationPath(s)
		if !ok {
			return
		}
		if id == "" || strings.Contains(id, "/") || (kind != "response" && kind != "error") || id+"/"+kind != s {
			t.Errorf("cutInvocationPath(%q) = %q, %q", s, id, kind)
		}
	})
}
