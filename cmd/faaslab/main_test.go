package main

import (
	"os"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"
)

// TestMain removes the binaries the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBuilt()
	os.Exit(code)
}
