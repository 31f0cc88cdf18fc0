package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/experiments/bench"
)

func newBenchCmd() *cobra.Command {
	o := bench.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "bench [all|core|shaping|docker]",
		Short: "Measure cold start, warm invoke latency and throughput, idle memory, shaping accuracy, Docker overhead",
		Long: `Benchmarks print tables: medians over --runs runs, each compared with a baseline
measured in the same run (raw fork+exec for cold start, a bare loopback HTTP round trip for
warm invoke, raw docker create+start for the docker backend). Needs root.`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"all", "core", "shaping", "docker"},
		RunE: func(cmd *cobra.Command, args []string) error {
			which := "all"
			if len(args) == 1 {
				which = args[0]
			}
			w := cmd.OutOrStdout()
			ctx := cmd.Context()
			run := map[string]func() error{
				"core":    func() error { return bench.Core(ctx, w, o) },
				"shaping": func() error { return bench.Shaping(ctx, w, o) },
				"docker":  func() error { return bench.Docker(ctx, w, o) },
			}
			if which != "all" {
				f, ok := run[which]
				if !ok {
					return fmt.Errorf("unknown benchmark %q (want all, core, shaping or docker)", which)
				}
				return f()
			}
			for _, name := range []string{"core", "docker", "shaping"} {
				if err := run[name](); err != nil {
					fmt.Fprintf(w, "\n%s benchmark failed: %v\n", name, err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Runs, "runs", o.Runs, "runs per measurement (the table shows medians)")
	f.IntVar(&o.ColdStarts, "cold-starts", o.ColdStarts, "cold starts per run")
	f.IntVar(&o.WarmInvokes, "warm-invokes", o.WarmInvokes, "sequential warm invokes per run")
	f.DurationVar(&o.Throughput, "throughput-time", o.Throughput, "how long each throughput run lasts")
	f.IntVar(&o.Clients, "clients", o.Clients, "concurrent clients of the throughput run")
	f.StringVar(&o.ShapingPoints, "shaping-points", o.ShapingPoints, `shaping points: "default" (the full grid), "quick", or a spec (see shape.ParseAccuracyPoints)`)
	f.StringVar(&o.Backend, "backend", o.Backend, "backend of the core benchmark")
	f.IntVar(&o.MemoryMB, "memory", o.MemoryMB, "MemorySize of the cold-start functions (the CPU quota follows it)")
	f.IntVar(&o.WarmMemoryMB, "warm-memory", o.WarmMemoryMB, "MemorySize of the warm and throughput functions")
	return cmd
}
