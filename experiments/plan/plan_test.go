package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/faaslab/faaslab/experiments/specs"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The expansions of fig5 and policies (full and quick) are pinned by a golden file: a
// change to IDs or order shows up here, because it would break --resume of older runs.
func TestGoldenExpansion(t *testing.T) {
	var buf bytes.Buffer
	for _, name := range []string{"fig5", "policies"} {
		s, err := specs.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, quick := range []bool{false, true} {
			for _, tr := range Expand(s, quick) {
				line, _ := json.Marshal(tr)
				buf.Write(append(line, '\n'))
			}
		}
	}
	golden := filepath.Join("testdata", "fig5_policies.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("expansion differs from %s:\n%s", golden, buf.String())
	}
}

// Every built-in spec expands to unique IDs, identically twice, with co-location and
// memory as the spec says.
func TestEveryBuiltinExpands(t *testing.T) {
	for _, name := range specs.Names() {
		s, err := specs.Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, quick := range []bool{false, true} {
			a, b := Expand(s, quick), Expand(s, quick)
			if len(a) == 0 {
				t.Errorf("%s quick=%v: no trials", name, quick)
			}
			ids := map[string]bool{}
			for i, tr := range a {
				if ids[tr.ID] {
					t.Errorf("%s: duplicate ID %s", name, tr.ID)
				}
				ids[tr.ID] = true
				if b[i].ID != tr.ID || ID(tr) != tr.ID {
					t.Errorf("%s: unstable ID %s", name, tr.ID)
				}
			}
		}
	}
}

func TestPoliciesMixAndStrict(t *testing.T) {
	s, _ := specs.Load("policies")
	trials := Expand(s, true)
	strict := 0
	for _, tr := range trials {
		if len(tr.MemoryMB) != 4 || tr.MemoryMB[0] != 128 || tr.MemoryMB[3] != 2048 {
			t.Errorf("%s: memory %v, want the mix", tr.ID, tr.MemoryMB)
		}
		if tr.Strict {
			strict++
			if tr.Policy != "proportional" {
				t.Errorf("%s: strict under %s", tr.ID, tr.Policy)
			}
		}
	}
	if strict != 2 || len(trials) != 10 {
		t.Errorf("%d trials, %d strict; want 10 and 2 (5 policies × iperf3 + download)", len(trials), strict)
	}
}

// today varies the CPU model slowest: one daemon restart in the whole run.
func TestCPUModelOutermost(t *testing.T) {
	s, _ := specs.Load("today")
	trials := Expand(s, true)
	changes := 0
	for i := 1; i < len(trials); i++ {
		if trials[i].CPUModel != trials[i-1].CPUModel {
			changes++
		}
	}
	if changes != 1 || trials[0].CPUModel != "paper" {
		t.Errorf("%d CPU model changes, first %s", changes, trials[0].CPUModel)
	}
}
