// Package record is the only package that knows the experiment runner's file formats.
// A run directory (results/<spec>/<run-id>/) holds:
//
//	manifest.json      what ran where: spec, git revision, kernel, cgroup version, profile
//	trials.jsonl       one TrialResult per finished trial (a resumed run skips these)
//	invocations.jsonl  one Invocation per invocation, joined with the daemon's record
//	samples.jsonl      one Sample per sampling tick (100 ms by default)
//
// The runner writes through a Writer; analysis and reports read with Load, so a report can
// be redrawn from the files without rerunning anything.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/internal/jsonl"
)

// File names inside a run directory.
const (
	ManifestFile    = "manifest.json"
	TrialsFile      = "trials.jsonl"
	InvocationsFile = "invocations.jsonl"
	SamplesFile     = "samples.jsonl"
)

// Manifest says what ran, where, and what this machine could not honour.
type Manifest struct {
	RunID         string          `json:"run_id"`
	Spec          string          `json:"spec"`     // spec name, e.g. fig5
	SpecDoc       json.RawMessage `json:"spec_doc"` // the validated spec, as JSON
	Quick         bool            `json:"quick"`    // --quick scale
	GitRevision   string          `json:"git_revision,omitempty"`
	Kernel        string          `json:"kernel,omitempty"`
	CgroupVersion int             `json:"cgroup_version,omitempty"`
	Profile       string          `json:"profile,omitempty"`
	Backend       string          `json:"backend,omitempty"`
	Endpoints     []string        `json:"endpoints,omitempty"` // one daemon per host
	Trials        []Trial         `json:"trials"`              // the plan, in run order
	Unhonoured    []string        `json:"unhonoured,omitempty"`
	// Reused maps a trial to the run that measured it earlier in the same command
	// ("fig6/<run-id> <trial-id>"): its records were copied, not measured again.
	Reused     map[string]string `json:"reused,omitempty"`
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt time.Time         `json:"finished_at,omitzero"`
}

// Trial is one point of a spec's plan: a set of co-located functions under one policy
// running one workload. Its ID is stable: the same spec always expands to the same IDs.
type Trial struct {
	ID         string            `json:"id"`
	Group      string            `json:"group,omitempty"`     // e.g. download, upload (the figure's panel)
	Policy     string            `json:"policy"`              // shaping policy
	Strict     bool              `json:"strict,omitempty"`    // proportional strict
	NICQueue   string            `json:"nic_queue,omitempty"` // fair | fifo
	CPUModel   string            `json:"cpu_model"`           // paper | lambda
	Workload   string            `json:"workload"`            // iperf3-up, iperf3-down, s3get, s3put, s3get-boto3, s3put-boto3
	MemoryMB   []int             `json:"memory_mb"`           // one entry per co-located function
	Objects    int               `json:"objects,omitempty"`   // work-queue items (object workloads)
	ObjectMB   int               `json:"object_mb,omitempty"`
	Seconds    float64           `json:"seconds,omitempty"` // iperf3 duration
	Repetition int               `json:"repetition"`
	Params     map[string]string `json:"params,omitempty"`
}

// N is the number of co-located functions.
func (t Trial) N() int { return len(t.MemoryMB) }

// TrialResult is a finished trial.
type TrialResult struct {
	TrialID    string    `json:"trial_id"`
	StartedAt  time.Time `json:"started_at"`  // the barrier's release
	FinishedAt time.Time `json:"finished_at"` // the last invocation's answer
	// ResponseSeconds is the paper's response time: the whole parallel job, end to end.
	ResponseSeconds float64 `json:"response_seconds"`
	Error           string  `json:"error,omitempty"`
}

// Invocation is one invocation as the client saw it, with the handler's own measurement
// and the daemon's record (joined on the request ID).
type Invocation struct {
	TrialID    string    `json:"trial_id"`
	RequestID  string    `json:"request_id"`
	Function   string    `json:"function"`
	MemoryMB   int       `json:"memory_mb"`
	Worker     int       `json:"worker"`         // which co-located function (0..N-1)
	Item       int       `json:"item,omitempty"` // work-queue item (object index)
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Status     string    `json:"status"` // ok | function_error | api_error
	Error      string    `json:"error,omitempty"`
	// The handler's measurement.
	Bytes            int64   `json:"bytes,omitempty"`
	Seconds          float64 `json:"seconds,omitempty"`
	BitsPerSec       float64 `json:"bits_per_sec,omitempty"`
	TTFBSeconds      float64 `json:"ttfb_seconds,omitempty"`
	CPUSeconds       float64 `json:"cpu_seconds,omitempty"`
	ThrottledSeconds float64 `json:"throttled_seconds,omitempty"`
	ThrottledPeriods int64   `json:"throttled_periods,omitempty"`
	NrPeriods        int64   `json:"nr_periods,omitempty"`
	SandboxID        string  `json:"sandbox_id,omitempty"`
	HostID           string  `json:"host_id,omitempty"`
	// The daemon's record.
	DurationMs       float64 `json:"duration_ms,omitempty"`
	BilledDurationMs int64   `json:"billed_duration_ms,omitempty"`
	InitDurationMs   float64 `json:"init_duration_ms,omitempty"`
	Cold             bool    `json:"cold,omitempty"`
}

// Sample is one tick of the host's counters during a trial.
type Sample struct {
	TrialID string               `json:"trial_id"`
	Host    string               `json:"host,omitempty"` // endpoint, for multi-host runs
	Sample  client.NetworkSample `json:"sample"`
}

// Run is everything a run directory holds.
type Run struct {
	Dir         string
	Manifest    Manifest
	Results     []TrialResult
	Invocations []Invocation
	Samples     []Sample
}

// TrialRecords are one trial's records of a run, in file order.
type TrialRecords struct {
	Results     []TrialResult // more than one when a resumed run retried the trial
	Invocations []Invocation
	Samples     []Sample
}

// ByTrial groups the run's records by trial ID (one pass over each file).
func (r *Run) ByTrial() map[string]*TrialRecords {
	by := map[string]*TrialRecords{}
	of := func(id string) *TrialRecords {
		tr := by[id]
		if tr == nil {
			tr = &TrialRecords{}
			by[id] = tr
		}
		return tr
	}
	for _, res := range r.Results {
		tr := of(res.TrialID)
		tr.Results = append(tr.Results, res)
	}
	for _, inv := range r.Invocations {
		tr := of(inv.TrialID)
		tr.Invocations = append(tr.Invocations, inv)
	}
	for _, s := range r.Samples {
		tr := of(s.TrialID)
		tr.Samples = append(tr.Samples, s)
	}
	return by
}

// Writer appends records to a run directory. Safe for concurrent use.
type Writer struct {
	dir  string
	mu   sync.Mutex
	open map[string]*os.File
}

// Create opens dir for writing (creating it); existing JSONL files are appended to, so a
// resumed run keeps what it had.
func Create(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	return &Writer{dir: dir, open: map[string]*os.File{}}, nil
}

// Dir is the run directory.
func (w *Writer) Dir() string { return w.dir }

// WriteManifest replaces manifest.json (written whole, then renamed: never half a file).
func (w *Writer) WriteManifest(m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(w.dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(w.dir, ManifestFile))
}

// TrialDone appends a finished trial.
func (w *Writer) TrialDone(r TrialResult) error { return w.append(TrialsFile, r) }

// Invocation appends an invocation.
func (w *Writer) Invocation(inv Invocation) error { return w.append(InvocationsFile, inv) }

// Sample appends a counter sample.
func (w *Writer) Sample(s Sample) error { return w.append(SamplesFile, s) }

func (w *Writer) append(name string, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.open[name]
	if f == nil {
		if f, err = jsonl.OpenAppend(filepath.Join(w.dir, name)); err != nil {
			return err
		}
		w.open[name] = f
	}
	_, err = f.Write(append(line, '\n'))
	return err
}

// Close closes the files.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for name, f := range w.open {
		errs = append(errs, f.Close())
		delete(w.open, name)
	}
	return errors.Join(errs...)
}

// Load reads a run directory. Missing JSONL files are empty; a missing manifest is an error.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a run directory: %w", dir, err)
	}
	if err := json.Unmarshal(data, &r.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if err := readLines(filepath.Join(dir, TrialsFile), &r.Results); err != nil {
		return nil, err
	}
	if err := readLines(filepath.Join(dir, InvocationsFile), &r.Invocations); err != nil {
		return nil, err
	}
	if err := readLines(filepath.Join(dir, SamplesFile), &r.Samples); err != nil {
		return nil, err
	}
	return r, nil
}

// LoadAll reads each run directory, stopping at the first that is not one.
func LoadAll(dirs []string) ([]*Run, error) {
	runs := make([]*Run, 0, len(dirs))
	for _, dir := range dirs {
		r, err := Load(dir)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// Finished is the set of trial IDs with a result: what --resume skips.
func (r *Run) Finished() map[string]bool {
	done := make(map[string]bool, len(r.Results))
	for _, res := range r.Results {
		if res.Error == "" {
			done[res.TrialID] = true
		}
	}
	return done
}

// readLines decodes path's JSON lines into *out (a slice pointer); a missing file is empty.
func readLines[T any](path string, out *[]T) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return jsonl.ReadLines(f, filepath.Base(path), func(v T) { *out = append(*out, v) })
}
