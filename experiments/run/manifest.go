package run

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/spec"
	"github.com/faaslab/faaslab/sandbox"
)

// NewManifest describes a run before it starts: the spec as validated, the plan, this
// machine, and what it cannot honour of the spec's profile.
func NewManifest(runID string, s *spec.Spec, quick bool, trials []record.Trial) (record.Manifest, error) {
	doc, err := json.Marshal(s)
	if err != nil {
		return record.Manifest{}, err
	}
	m := record.Manifest{
		RunID: runID, Spec: s.Name, SpecDoc: doc, Quick: quick,
		GitRevision: gitRevision(), Kernel: kernel(), CgroupVersion: cgroupVersion(),
		Profile: s.HostProfile(), Backend: s.HostBackend(), Trials: trials, StartedAt: time.Now().UTC(),
	}
	m.Unhonoured = machineLimits(s.HostProfile())
	return m, nil
}

// SpecOf reloads the spec a manifest recorded (for --resume), validated again.
func SpecOf(m record.Manifest) (*spec.Spec, error) {
	var s spec.Spec
	if err := json.Unmarshal(m.SpecDoc, &s); err != nil {
		return nil, fmt.Errorf("the manifest's spec: %w", err)
	}
	return &s, s.Validate()
}

// NewRunID is a sortable run id: UTC time to the second and the process id.
func NewRunID(now time.Time) string {
	return fmt.Sprintf("%s-%d", now.UTC().Format("20060102-150405"), os.Getpid())
}

// machineLimits says where this machine differs from the profile it emulates.
func machineLimits(profile string) []string {
	var out []string
	p, err := sandbox.LookupProfile(profile)
	if err != nil {
		return nil
	}
	if n := runtime.NumCPU(); float64(n) < p.VCPUs {
		out = append(out, fmt.Sprintf("profile %s has %g vCPUs; this machine has %d CPUs, so the host cap is scaled down", profile, p.VCPUs, n))
	}
	return out
}

func gitRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && rev != "" {
		rev += "-dirty"
	}
	return rev
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// cgroupVersion is 2 on a unified hierarchy, 1 otherwise (hybrid included).
func cgroupVersion() int {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return 2
	}
	return 1
}
