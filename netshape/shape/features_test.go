package shape

import (
	"errors"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"
)

func requireRoot(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t, "CAP_NET_ADMIN and CAP_SYS_ADMIN create network namespaces")
}

func TestDetectFeatures(t *testing.T) {
	requireRoot(t)
	f := DetectFeatures()
	if f.Err != nil {
		t.Fatalf("detection failed: %v", f.Err)
	}
	t.Logf("\n%s", f)
	// Every kernel that can run faaslab has these; the probe proves the
	// happy path, and at least one of the probed kinds must be reported.
	for _, q := range []string{"htb", "pfifo"} {
		if !f.Qdiscs[q] {
			t.Errorf("qdisc %s not detected", q)
		}
	}
	if !f.Classifiers["u32"] || !f.Links["veth"] {
		t.Errorf("u32/veth not detected: %+v %+v", f.Classifiers, f.Links)
	}
	if len(f.Qdiscs) != len(probeQdiscs) || len(f.Classifiers) != len(probeClassifiers) {
		t.Errorf("not every kind probed: %v %v", f.Qdiscs, f.Classifiers)
	}
}

func TestFeaturesCheck(t *testing.T) {
	f := Features{
		Qdiscs:      map[string]bool{"htb": true},
		Classifiers: map[string]bool{"u32": false},
		NetPrio:     NetPrio{Compiled: true, CgroupV2Only: true},
	}
	err := f.Check(PolicyConfig{Name: "equal", NICBitsPerSec: 1e9})
	if !errors.Is(err, ErrMissingFeature) || !strings.Contains(err.Error(), `policy "equal" needs qdisc htb and classifier u32; this kernel lacks: classifier u32`) {
		t.Errorf("equal: %v", err)
	}
	if err := f.Check(PolicyConfig{Name: "none"}); err != nil {
		t.Errorf("none unlimited needs nothing: %v", err)
	}
	if err := f.Check(PolicyConfig{Name: "none", NICBitsPerSec: 1e9, NICQueue: "fifo"}); err != nil {
		t.Errorf("none with cap and a FIFO needs htb only: %v", err)
	}
	if err := f.Check(PolicyConfig{Name: "none", NICBitsPerSec: 1e9}); !errors.Is(err, ErrMissingFeature) || !strings.Contains(err.Error(), "nic_queue: fifo") {
		t.Errorf("none with a fair queue on a kernel without fq_codel, sfq or bpf: %v", err)
	}
	err = f.Check(PolicyConfig{Name: "netprio", NICBitsPerSec: 1e9})
	if !errors.Is(err, ErrMissingFeature) || !strings.Contains(err.Error(), "cgroup v2") {
		t.Errorf("netprio on v2: %v", err)
	}
	f.Qdiscs["htb"] = false
	if err := f.Check(PolicyConfig{Name: "none", NICBitsPerSec: 1e9}); err == nil || !strings.Contains(err.Error(), "lacks: qdisc htb") {
		t.Errorf("none without htb: %v", err)
	}
}
