package main

import (
	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/experiments/services/wan"
	"github.com/faaslab/faaslab/internal/kvm"
	"github.com/faaslab/faaslab/internal/probe"
	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/docker"
)

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Report what this kernel and host support (cgroups, namespaces, qdiscs, Docker, iptables)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			probe.Print(cmd.OutOrStdout(),
				sandbox.ProbeCgroups(),
				sandbox.ProbeNamespaces(),
				shape.Probe(),
				wan.Probe(),
				docker.Probe(cmd.Context()),
				probe.Section{Title: "tools", Checks: []probe.Check{
					probe.Tool("iptables", "FORWARD ACCEPT for the bridge (Docker sets policy DROP)"),
					probe.Tool("iperf3", "micro-benchmark experiments and shaping accuracy bench"),
					probe.Tool("nsenter", "child processes in the remote namespace"),
					probe.Tool("qemu-system-x86_64", "make test-vm (cgroup v2 tests)"),
					kvm.Check(kvm.DefaultDevice),
				}},
				netshape.ProbeHostRules(cmd.Context()),
			)
			return nil
		},
	}
}
