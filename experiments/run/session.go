package run

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/faaslab/faaslab/experiments/plan"
	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/spec"
	"github.com/faaslab/faaslab/experiments/target"
)

// Job is one spec to run into one run directory: new (results/<spec>/<run-id>/) or
// resumed (the directory a previous run left).
type Job struct {
	Spec     *spec.Spec
	Quick    bool
	Dir      string
	Manifest record.Manifest
	Finished map[string]bool // trials a resumed run skips
	// Measured is what earlier jobs of the same command measured: trials it holds are
	// copied, not run again, and this job's trials are added to it. nil: run everything.
	Measured *Measured
}

// NewJob plans a fresh run of s under out.
func NewJob(s *spec.Spec, quick bool, out string, now time.Time) (Job, error) {
	id := NewRunID(now)
	trials := plan.Expand(s, quick)
	m, err := NewManifest(id, s, quick, trials)
	if err != nil {
		return Job{}, err
	}
	return Job{Spec: s, Quick: quick, Dir: filepath.Join(out, s.Name, id), Manifest: m}, nil
}

// ResumeJob reopens a run directory: the spec and scale its manifest recorded, planned
// again, and the trials it finished.
func ResumeJob(dir string) (Job, error) {
	prev, err := record.Load(dir)
	if err != nil {
		return Job{}, err
	}
	s, err := SpecOf(prev.Manifest)
	if err != nil {
		return Job{}, err
	}
	m := prev.Manifest
	trials := plan.Expand(s, m.Quick)
	if !slices.EqualFunc(trials, m.Trials, func(a, b record.Trial) bool { return a.ID == b.ID }) {
		return Job{}, fmt.Errorf("%s was planned by another version of faaslab (its trials differ from this one's plan): start a new run", dir)
	}
	m.FinishedAt = time.Time{}
	return Job{Spec: s, Quick: m.Quick, Dir: dir, Manifest: m, Finished: prev.Finished()}, nil
}

// Execute runs a job: writes the manifest, runs the trials not yet finished, and writes
// the manifest again with the hosts used, what they could not honour and (when every
// trial finished) the finish time. It returns the run as recorded.
func Execute(ctx context.Context, job Job, fleet target.Fleet, progress func(Event)) (*record.Run, Summary, error) {
	w, err := record.Create(job.Dir)
	if err != nil {
		return nil, Summary{}, err
	}
	defer w.Close()
	m := job.Manifest
	if err := w.WriteManifest(m); err != nil {
		return nil, Summary{}, err
	}
	reused, err := job.Measured.copyInto(job, w)
	if err != nil {
		return nil, Summary{}, err
	}
	finished := maps.Clone(job.Finished)
	if finished == nil {
		finished = map[string]bool{}
	}
	for id, src := range reused {
		finished[id] = true
		if m.Reused == nil {
			m.Reused = map[string]string{}
		}
		m.Reused[id] = src
	}
	r := &Runner{Spec: job.Spec, RunID: m.RunID, Fleet: fleet, Writer: w, Progress: progress, Reused: m.Reused}
	sum, runErr := r.Run(ctx, m.Trials, finished)
	endpoints, unhonoured := fleet.Describe()
	m.Endpoints = endpoints
	for _, u := range unhonoured {
		if !slices.Contains(m.Unhonoured, u) {
			m.Unhonoured = append(m.Unhonoured, u)
		}
	}
	if runErr == nil && sum.Failed == 0 {
		m.FinishedAt = time.Now().UTC()
	}
	if err := w.WriteManifest(m); err != nil {
		return nil, sum, errors.Join(runErr, err)
	}
	if err := w.Close(); err != nil {
		return nil, sum, errors.Join(runErr, err)
	}
	run, err := record.Load(job.Dir)
	if err != nil {
		return nil, sum, errors.Join(runErr, err)
	}
	if job.Measured != nil {
		job.Measured.Add(job.Spec, run)
	}
	return run, sum, runErr
}
