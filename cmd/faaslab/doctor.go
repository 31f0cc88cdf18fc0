package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	dockerclient "github.com/docker/docker/client"
	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/spf13/cobra"
)

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Report what this kernel and host support (cgroups, namespaces, qdiscs, Docker, iptables)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			doctorCgroups(w)
			doctorNamespaces(w)
			doctorShaping(w)
			doctorDocker(cmd.Context(), w)
			doctorTools(w)
			netshape.ReportHostRules(cmd.Context(), w)
			return nil
		},
	}
}

func check(w io.Writer, ok bool, what, detail string) {
	mark := "ok  "
	if !ok {
		mark = "MISS"
	}
	fmt.Fprintf(w, "  [%s] %-28s %s\n", mark, what, detail)
}

func doctorCgroups(w io.Writer) {
	fmt.Fprintln(w, "cgroups:")
	mode := map[cgroups.CGMode]string{cgroups.Legacy: "v1 (legacy)", cgroups.Hybrid: "v1 (hybrid: v2 mounted without controllers)",
		cgroups.Unified: "v2 (unified)", cgroups.Unavailable: "unavailable"}[cgroups.Mode()]
	check(w, cgroups.Mode() != cgroups.Unavailable, "version", mode)
	enabled := map[string]bool{}
	if f, err := os.Open("/proc/cgroups"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 4 && fields[3] == "1" {
				enabled[fields[0]] = true
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && cgroups.Mode() == cgroups.Unified {
		for _, c := range strings.Fields(string(b)) {
			enabled[c] = true
		}
	}
	for _, c := range []string{"cpu", "memory", "pids", "net_prio", "net_cls"} {
		detail := "enabled"
		if !enabled[c] {
			detail = "not available"
		}
		if c == "net_prio" {
			detail += " (needed only for network mode shared + policy netprio; cgroup v1 only)"
		}
		check(w, enabled[c], "controller "+c, detail)
	}
}

func doctorNamespaces(w io.Writer) {
	fmt.Fprintln(w, "namespaces:")
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net", "cgroup", "user"} {
		_, err := os.Stat("/proc/self/ns/" + ns)
		check(w, err == nil, ns, "")
	}
	check(w, os.Geteuid() == 0, "running as root", "the daemon needs root for cgroups, namespaces and links")
}

func doctorDocker(ctx context.Context, w io.Writer) {
	fmt.Fprintln(w, "docker:")
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		check(w, false, "engine", err.Error())
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ping, err := cli.Ping(ctx)
	if err != nil {
		check(w, false, "engine", "not reachable (run `make docker-up` for --backend docker): "+err.Error())
		return
	}
	check(w, true, "engine", "API "+ping.APIVersion)
}

func doctorTools(w io.Writer) {
	fmt.Fprintln(w, "tools:")
	for _, tool := range []struct{ name, why string }{
		{"iptables", "FORWARD ACCEPT for the bridge (Docker sets policy DROP)"},
		{"iperf3", "micro-benchmark experiments and shaping accuracy bench"},
		{"nsenter", "child processes in the remote namespace"},
		{"qemu-system-x86_64", "make test-vm (cgroup v2 tests)"},
	} {
		p, err := exec.LookPath(tool.name)
		detail := tool.why
		if err == nil {
			detail = p + ": " + tool.why
		}
		check(w, err == nil, tool.name, detail)
	}
}

func doctorShaping(w io.Writer) {
	fmt.Fprintln(w, "traffic control (probed in a throwaway namespace):")
	for _, line := range strings.Split(strings.TrimRight(shape.DetectFeatures().String(), "\n"), "\n") {
		fmt.Fprintln(w, "  "+line)
	}
	for _, p := range shape.Policies {
		err := shape.DetectFeatures().Check(shape.PolicyConfig{Name: p, NICBitsPerSec: 1e9, FixedBitsPerSec: 1e8})
		detail := "available"
		if err != nil {
			detail = err.Error()
		}
		check(w, err == nil, "policy "+p, detail)
	}
}
