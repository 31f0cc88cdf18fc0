package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/experiments/faasbench"
)

func newFaasbenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "faasbench", Short: "The FaaS benchmarking framework: generator → proxy function → target function, m1–m4"}
	cmd.AddCommand(newFaasbenchRunCmd())
	return cmd
}

func newFaasbenchRunCmd() *cobra.Command {
	d := &daemonFlags{}
	var out string
	var repeat, memory int
	cmd := &cobra.Command{
		Use:   "run SPEC.yaml|paper-wordcount",
		Short: "Run a faasbench spec (or the paper's word count scenario) and write results/faasbench/<run-id>/",
		Long: `Run a faasbench spec (docs/faasbench.md). On platform faaslab the functions and their
URLs are created through the daemon at --endpoint and deleted afterwards; platform http
calls the spec's URLs as they are. paper-wordcount is the paper's scenario: word count
workloads of 10, 10², … 10⁶ words through the proxy, --repeat requests each, and writes
Tables 2 and 3 to tables.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var spec faasbench.Spec
			if args[0] == "paper-wordcount" {
				spec = faasbench.PaperWordcount(d.endpoint, repeat)
			} else {
				var err error
				if spec, err = faasbench.LoadSpec(args[0]); err != nil {
					return err
				}
				// --endpoint or FAASLAB_ENDPOINT override the spec's endpoint; without
				// either the spec's stands, else the runner's default.
				if cmd.Flags().Changed("endpoint") || os.Getenv("FAASLAB_ENDPOINT") != "" {
					spec.Faaslab.Endpoint = d.endpoint
				}
			}
			if cmd.Flags().Changed("memory") {
				spec.Faaslab.MemoryMB = memory
			}
			r := &faasbench.Runner{Spec: spec, Dir: out, Out: cmd.OutOrStdout(), ClientOptions: d.opts}
			_, err := r.Run(cmd.Context())
			return err
		},
	}
	d.bind(cmd) // --endpoint (or FAASLAB_ENDPOINT) overrides a spec's faaslab.endpoint
	f := cmd.Flags()
	f.StringVar(&out, "out", "results/faasbench", "results root; the run writes <out>/<run-id>/")
	f.IntVar(&repeat, "repeat", 3, "paper-wordcount: requests per workload")
	f.IntVar(&memory, "memory", 0, "function memory in MB (overrides the spec; paper-wordcount uses 1024)")
	return cmd
}
