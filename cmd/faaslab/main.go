// Command faaslab is the one CLI of faaslab: the daemon, function management, experiments,
// benchmarks, host diagnostics and cleanup. It parses flags, wires packages and calls them;
// the work itself lives in the packages.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/sandbox/native/nsinit"
)

func main() {
	// A native sandbox started with this binary as its init (no --runtime-bin) becomes
	// the sandbox here and never returns.
	nsinit.MaybeRun()
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "faaslab:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "faaslab",
		Short:         "A local serverless emulator for network-isolation research",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newDaemonCmd(),
		newFnCmd(),
		newDoctorCmd(),
		newCleanupCmd(),
		newBenchCmd(),
		newImageCmd(),
		newServicesCmd(), newServeS3Cmd(), newDataCmd(),
		newFaasbenchCmd(),
		newExperimentCmd(),
	)
	return root
}
