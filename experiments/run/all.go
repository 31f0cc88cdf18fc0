package run

import (
	"context"
	"errors"
	"fmt"

	"github.com/faaslab/faaslab/experiments/report"
	"github.com/faaslab/faaslab/experiments/target"
)

// ExecuteAll runs jobs in order against one fleet and writes each one's report. With
// reuse, a trial an earlier job measured is copied, not measured again. A job that fails
// does not stop the next (that one may need another CPU model, or no object store): its
// problem is listed, naming the --resume that finishes it. Cancelling ctx stops them all,
// with an error naming the run directory to resume. progress, if not nil, gives each
// job's progress callback as the job starts.
func ExecuteAll(ctx context.Context, jobs []Job, fleet target.Fleet, reuse bool, progress func(Job) func(Event)) (sums []report.Summary, problems []string, err error) {
	measured := &Measured{}
	for _, job := range jobs {
		if reuse {
			job.Measured = measured
		}
		var events func(Event)
		if progress != nil {
			events = progress(job)
		}
		rec, sum, err := Execute(ctx, job, fleet, events)
		if errors.Is(err, context.Canceled) {
			return sums, problems, fmt.Errorf("interrupted; finish with: faaslab experiment run --resume %s", job.Dir)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v (finished trials are kept: --resume %s)", job.Spec.Name, err, job.Dir))
			continue
		}
		if sum.Failed > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d of %d trials failed (reasons in trials.jsonl); rerun them with --resume %s", job.Spec.Name, sum.Failed, len(job.Manifest.Trials), job.Dir))
		}
		rs, err := report.Write(rec, job.Dir)
		if err != nil {
			problems = append(problems, fmt.Sprintf("report %s: %v", job.Dir, err))
			continue
		}
		sums = append(sums, rs)
	}
	return sums, problems, nil
}
