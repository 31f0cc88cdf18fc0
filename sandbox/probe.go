package sandbox

import (
	"os"
	"strings"

	"github.com/containerd/cgroups/v3"
	"github.com/prometheus/procfs"

	"github.com/faaslab/faaslab/internal/probe"
)

// ProbeCgroups reports the cgroup version and the controllers sandboxes use.
func ProbeCgroups() probe.Section {
	s := probe.Section{Title: "cgroups"}
	mode := map[cgroups.CGMode]string{cgroups.Legacy: "v1 (legacy)", cgroups.Hybrid: "v1 (hybrid: v2 mounted without controllers)",
		cgroups.Unified: "v2 (unified)", cgroups.Unavailable: "unavailable"}[cgroups.Mode()]
	s.Checks = append(s.Checks, probe.Check{Name: "version", OK: cgroups.Mode() != cgroups.Unavailable, Detail: mode})
	enabled := enabledControllers()
	for _, c := range []string{"cpu", "memory", "pids", "net_prio", "net_cls"} {
		detail := "enabled"
		if !enabled[c] {
			detail = "not available"
		}
		if c == "net_prio" {
			detail += " (needed only for network mode shared + policy netprio; cgroup v1 only)"
		}
		s.Checks = append(s.Checks, probe.Check{Name: "controller " + c, OK: enabled[c], Detail: detail})
	}
	return s
}

// enabledControllers reads /proc/cgroups (v1) and the root's cgroup.controllers (v2).
func enabledControllers() map[string]bool {
	enabled := map[string]bool{}
	if fs, err := procfs.NewDefaultFS(); err == nil {
		if sums, err := fs.CgroupSummarys(); err == nil {
			for _, c := range sums {
				enabled[c.SubsysName] = c.Enabled == 1
			}
		}
	}
	if b, err := os.ReadFile(CgroupRoot + "/cgroup.controllers"); err == nil && CgroupV2() {
		for _, c := range strings.Fields(string(b)) {
			enabled[c] = true
		}
	}
	return enabled
}

// ProbeNamespaces reports the namespaces sandboxes use and whether this process is root.
func ProbeNamespaces() probe.Section {
	s := probe.Section{Title: "namespaces"}
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net", "cgroup", "user"} {
		_, err := os.Stat("/proc/self/ns/" + ns)
		s.Checks = append(s.Checks, probe.Check{Name: ns, OK: err == nil})
	}
	s.Checks = append(s.Checks, probe.Check{Name: "running as root", OK: os.Geteuid() == 0,
		Detail: "the daemon needs root for cgroups, namespaces and links"})
	return s
}
