package native

import (
	"os"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/sandbox/native/nsinit"
)

// TestMain lets the test binary double as the sandbox init: the tests start sandboxes
// with InitBinary "" (/proc/self/exe), which re-enters here.
func TestMain(m *testing.M) {
	nsinit.MaybeRun()
	code := m.Run()
	testutil.RemoveBuilt()
	os.Exit(code)
}
