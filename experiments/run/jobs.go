package run

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/faaslab/faaslab/experiments/specs"
)

// Jobs turns `faaslab experiment run` arguments into jobs: a run directory to resume,
// "all", built-in spec names or YAML files. now stamps the new run ids.
func Jobs(args []string, resume string, quick bool, out string, now time.Time) ([]Job, error) {
	if resume != "" {
		if len(args) > 0 {
			return nil, errors.New("--resume takes the run directory alone, no SPEC")
		}
		j, err := ResumeJob(resume)
		return []Job{j}, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("name a spec (%s, all) or a YAML file", strings.Join(specs.Names(), ", "))
	}
	if len(args) == 1 && args[0] == "all" {
		args = specs.Names()
	}
	var jobs []Job
	for _, a := range args {
		s, err := specs.Resolve(a)
		if err != nil {
			return nil, err
		}
		j, err := NewJob(s, quick, out, now)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}
