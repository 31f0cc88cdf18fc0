package run

import (
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/spec"
)

// Measured is what one `faaslab experiment run` has measured so far, keyed by what a
// trial measures rather than by the spec that planned it. Several built-in specs plan
// the same trials — fig7 reads fig6's downloads as a whole job, and today's paper-model
// half is fig4 and fig6 again — so a later spec takes the earlier one's records instead
// of measuring the same thing twice. The zero value is ready; nil measures everything.
type Measured struct {
	byKey map[string]measuredTrial
}

// measuredTrial is one finished trial's records and the run directory they come from.
type measuredTrial struct {
	dir         string
	result      record.TrialResult
	invocations []record.Invocation
	samples     []record.Sample
}

// measureKey is everything that decides what a trial measures: the host it runs on
// (profile, backend, NIC, WAN model), the sampling interval and the trial itself, but not
// its id or group (names given by the spec that planned it).
func measureKey(s *spec.Spec, t record.Trial) string {
	t.ID, t.Group = "", ""
	b, err := json.Marshal(struct {
		Profile, Backend, NIC, WAN string
		Interval                   time.Duration
		Trial                      record.Trial
	}{s.HostProfile(), s.HostBackend(), s.NIC, s.WANModel(), s.Interval(), t})
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return string(b)
}

// Add remembers run's trials that finished without error; s is the spec that planned them.
func (m *Measured) Add(s *spec.Spec, run *record.Run) {
	if m.byKey == nil {
		m.byKey = map[string]measuredTrial{}
	}
	planned := map[string]record.Trial{}
	for _, t := range run.Manifest.Trials {
		planned[t.ID] = t
	}
	byTrial := run.ByTrial()
	for _, res := range run.Results {
		t, ok := planned[res.TrialID]
		if !ok || res.Error != "" {
			continue
		}
		key := measureKey(s, t)
		if _, seen := m.byKey[key]; seen {
			continue // the first measurement stays
		}
		tr := byTrial[res.TrialID]
		m.byKey[key] = measuredTrial{dir: run.Dir, result: res, invocations: tr.Invocations, samples: tr.Samples}
	}
}

// copyInto writes, for every trial of job not finished yet that was measured before, the
// earlier records under this trial's id, and returns trial id → where it was measured
// ("fig6/<run-id> <trial-id>"). Nothing is copied from a nil Measured.
func (m *Measured) copyInto(job Job, w *record.Writer) (map[string]string, error) {
	reused := map[string]string{}
	if m == nil {
		return reused, nil
	}
	for _, t := range job.Manifest.Trials {
		mt, ok := m.byKey[measureKey(job.Spec, t)]
		if !ok || job.Finished[t.ID] {
			continue
		}
		for _, inv := range mt.invocations {
			inv.TrialID = t.ID
			if err := w.Invocation(inv); err != nil {
				return nil, err
			}
		}
		for _, smp := range mt.samples {
			smp.TrialID = t.ID
			if err := w.Sample(smp); err != nil {
				return nil, err
			}
		}
		src := filepath.Join(filepath.Base(filepath.Dir(mt.dir)), filepath.Base(mt.dir)) + " " + mt.result.TrialID
		res := mt.result
		res.TrialID = t.ID
		if err := w.TrialDone(res); err != nil {
			return nil, err
		}
		reused[t.ID] = src
	}
	return reused, nil
}
