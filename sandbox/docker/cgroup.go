package docker

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/faaslab/faaslab/sandbox"
)

// The engine creates and removes the containers' cgroups; package sandbox finds them
// (CgroupOfPID), writes the CPU quota once the gate is up (see boot) and reads counters.
// This file manages the parent.

// parentCgroup is the host-level cgroup all containers of a backend sit under, capped at
// the host profile like the native backend's (a small profile emulated on a bigger box).
type parentCgroup struct {
	v2      bool
	path    string // relative to the hierarchy root, e.g. /faaslab-docker
	existed bool   // the parent was there before setup: leave it on Close
}

// setup creates the parent (when missing) with the profile's limits.
func (p *parentCgroup) setup(host sandbox.Resources) error {
	_, err := os.Stat(filepath.Join(sandbox.CgroupRoot, "memory", p.path))
	if p.v2 {
		_, err = os.Stat(filepath.Join(sandbox.CgroupRoot, p.path))
	}
	p.existed = err == nil
	if _, err := sandbox.NewCgroup(p.path, host); err != nil {
		return fmt.Errorf("cap parent cgroup %s at the host profile (run as root): %w", p.path, err)
	}
	return nil
}

// remove deletes a parent that setup created, in every hierarchy (runc creates it in all).
func (p *parentCgroup) remove() error {
	if p.existed {
		return nil
	}
	return sandbox.RemoveCgroupEverywhere(p.path)
}
