// Command faaslab is the one CLI of faaslab: the daemon, function management, experiments,
// benchmarks, host diagnostics and cleanup. It parses flags, wires packages and calls them;
// the work itself lives in the packages.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
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
	)
	return root
}
