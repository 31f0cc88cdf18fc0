package scheduler

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/sandbox"
)

// Every prefix the config accepts yields valid sandbox IDs however long the function name
// and however large the counter; the longest prefixes are refused up front.
func TestSandboxIDsFitForEveryAcceptedPrefix(t *testing.T) {
	// The longest prefix that leaves room for "-x" and the largest count.
	fits := 48 - len("-x-") - len(strconv.FormatUint(math.MaxUint64, 10))
	name := "My_Function-" + strings.Repeat("x", 52)
	accepted := 0
	for n := len(sandbox.NamePrefix); n <= 48; n++ {
		prefix := sandbox.NamePrefix + strings.Repeat("p", n-len(sandbox.NamePrefix))
		cfg, err := Config{StateDir: t.TempDir(), SandboxPrefix: prefix}.withDefaults()
		if err != nil {
			if n <= fits {
				t.Errorf("prefix of %d characters refused: %v", n, err)
			}
			continue
		}
		accepted++
		s := &Scheduler{cfg: cfg}
		for _, count := range []uint64{0, 9, 999, 99999, 1 << 40, math.MaxUint64 - 1} {
			s.seq.Store(count)
			id := s.newSandboxID(name)
			if !sandbox.ValidID(id) || !strings.HasPrefix(id, prefix+"-") ||
				!strings.HasSuffix(id, "-"+strconv.FormatUint(count+1, 10)) {
				t.Errorf("prefix of %d characters, count %d: sandbox id %q (%d characters)", n, count+1, id, len(id))
			}
		}
	}
	if accepted != fits-len(sandbox.NamePrefix)+1 {
		t.Errorf("%d prefix lengths accepted, want every one up to %d characters", accepted, fits)
	}
}
