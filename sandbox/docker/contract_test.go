package docker

import (
	"strings"
	"testing"

	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/sandboxtest"
)

// TestContract runs the backend contract suite (the same one native runs) on Docker.
func TestContract(t *testing.T) {
	sandboxtest.Run(t, func(t *testing.T) sandbox.Backend { return newTestBackend(t) })
}

// TestHardeningFromInside runs the contract's test program in a container and checks what
// it sees: the non-root user, no capabilities, no_new_privs, a read-only root with a
// writable /tmp, no docker socket, and only the loopback link (NetworkMode none).
func TestHardeningFromInside(t *testing.T) {
	b := newTestBackend(t)
	for _, tc := range []struct{ mode, want string }{
		{"whoami", "capeff=0000000000000000 capbnd=0000000000000000 nonewprivs=1"},
		{"fs", "rootwritable=false tmpwritable=true shadow=-1 rootentries=0 homeentries=0 dockersock=false"},
		{"links", "links=lo\n"},
	} {
		spec, log := sandboxtest.Spec(t, tc.mode)
		sb := sandboxtest.RunToExit(t, b, spec)
		if err := sb.ExitError(); err != nil {
			t.Errorf("%s: %v (log %q)", tc.mode, err, log.String())
		}
		if !strings.Contains(log.String(), tc.want) {
			t.Errorf("%s printed %q, want %q", tc.mode, log.String(), tc.want)
		}
	}
}

// TestStatsCapturedAtExit: a command that exits on its own still reports its memory peak
// and CPU time, read from the cgroup as the process exits (before the engine removes it).
func TestStatsCapturedAtExit(t *testing.T) {
	b := newTestBackend(t)
	spec, log := sandboxtest.Spec(t, "echo", "short")
	sb := sandboxtest.RunToExit(t, b, spec)
	st, err := sb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.OOMKills != 0 {
		t.Errorf("OOM kills %d for an echo", st.OOMKills)
	}
	if st == (sandbox.Stats{}) {
		// runc removes the cgroup right after the init exits; for a command this short
		// the exit-time read can lose that race (invocations read stats while running).
		t.Skipf("the engine removed the cgroup before its counters could be read (log %q)", log.String())
	}
	if st.MemoryPeakBytes == 0 || st.CPUUsageNs == 0 {
		t.Errorf("partial stats after a short run: %+v (log %q)", st, log.String())
	}
}
