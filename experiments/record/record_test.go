package record

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteLoadRoundTripAndTornLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{RunID: "r1", Spec: "fig5", Trials: []Trial{{ID: "fig5/none/n2/r0", Policy: "none", Workload: "iperf3-down", MemoryMB: []int{128, 128}}}, StartedAt: time.Unix(1, 0).UTC()}
	if err := w.WriteManifest(m); err != nil {
		t.Fatal(err)
	}
	w.Invocation(Invocation{TrialID: "fig5/none/n2/r0", RequestID: "a", Worker: 1, BitsPerSec: 2e8, Status: "ok"})
	w.TrialDone(TrialResult{TrialID: "fig5/none/n2/r0", ResponseSeconds: 5.5})
	w.TrialDone(TrialResult{TrialID: "fig5/none/n4/r0", Error: "daemon gone"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves half a line: Load keeps everything before it.
	f, _ := os.OpenFile(filepath.Join(dir, InvocationsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"trial_id":"fig5/no`)
	f.Close()

	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Manifest.Spec != "fig5" || r.Manifest.Trials[0].N() != 2 {
		t.Errorf("manifest %+v", r.Manifest)
	}
	if len(r.Invocations) != 1 || r.Invocations[0].BitsPerSec != 2e8 || r.Invocations[0].Worker != 1 {
		t.Errorf("invocations %+v", r.Invocations)
	}
	done := r.Finished()
	if !done["fig5/none/n2/r0"] || done["fig5/none/n4/r0"] {
		t.Errorf("finished %v: want the successful trial only", done)
	}
}

// TestResumeAfterTornLine: a resumed run appends after the crash's half line; the half
// line is cut off first, so the run still loads with the old and the new records.
func TestResumeAfterTornLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteManifest(Manifest{RunID: "r1", Spec: "fig5"}); err != nil {
		t.Fatal(err)
	}
	w.Invocation(Invocation{TrialID: "t1", RequestID: "before"})
	w.Close()
	f, _ := os.OpenFile(filepath.Join(dir, InvocationsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"trial_id":"t2","requ`) // the crash
	f.Close()
	// A file that is nothing but a torn line, too.
	os.WriteFile(filepath.Join(dir, SamplesFile), []byte(`{"trial_id":"t`), 0o644)

	w, err = Create(dir) // --resume
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Invocation(Invocation{TrialID: "t2", RequestID: "after"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sample(Sample{TrialID: "t2"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r, err := Load(dir)
	if err != nil {
		t.Fatalf("the resumed run does not load: %v", err)
	}
	if len(r.Invocations) != 2 || r.Invocations[0].RequestID != "before" || r.Invocations[1].RequestID != "after" {
		t.Errorf("invocations %+v: want before, after", r.Invocations)
	}
	if len(r.Samples) != 1 || r.Samples[0].TrialID != "t2" {
		t.Errorf("samples %+v: want the one written after the torn line", r.Samples)
	}
}

func TestLoadRejectsCorruptMiddleLineAndMissingManifest(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil {
		t.Error("Load without a manifest succeeded")
	}
	w, _ := Create(dir)
	w.WriteManifest(Manifest{RunID: "r"})
	w.Close()
	os.WriteFile(filepath.Join(dir, SamplesFile), []byte("{not json}\n{}\n"), 0o644)
	if _, err := Load(dir); err == nil {
		t.Error("Load accepted a corrupt line in the middle of samples.jsonl")
	}
}

func TestByTrialGroupsInFileOrder(t *testing.T) {
	run := &Run{
		Results:     []TrialResult{{TrialID: "t1", Error: "boom"}, {TrialID: "t2"}, {TrialID: "t1"}},
		Invocations: []Invocation{{TrialID: "t1", RequestID: "a"}, {TrialID: "t2", RequestID: "b"}, {TrialID: "t1", RequestID: "c"}},
		Samples:     []Sample{{TrialID: "t3"}},
	}
	by := run.ByTrial()
	if len(by) != 3 {
		t.Fatalf("%d trials, want 3 (t1, t2, and t3 with samples only)", len(by))
	}
	t1 := by["t1"]
	if len(t1.Results) != 2 || t1.Results[0].Error != "boom" || t1.Results[1].Error != "" {
		t.Errorf("t1 results %+v: want the failed attempt, then the retry", t1.Results)
	}
	if len(t1.Invocations) != 2 || t1.Invocations[0].RequestID != "a" || t1.Invocations[1].RequestID != "c" {
		t.Errorf("t1 invocations %+v: want a, c", t1.Invocations)
	}
	if len(by["t2"].Invocations) != 1 || len(by["t3"].Samples) != 1 || len(by["t3"].Results) != 0 {
		t.Errorf("t2 %+v, t3 %+v", by["t2"], by["t3"])
	}
}
