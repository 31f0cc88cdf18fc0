package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/sandbox/docker"
)

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Build the runtime image of the docker backend"}
	var opts docker.BuildOptions
	build := &cobra.Command{
		Use:   "build",
		Short: "Build faaslab-runtime:latest FROM scratch with the static bootstrap (no registry needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Progress = cmd.ErrOrStderr()
			id, err := docker.BuildImage(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s (%s)\n", opts.Tag, id)
			return nil
		},
	}
	build.Flags().StringVar(&opts.Tag, "tag", docker.DefaultImage, "image tag")
	ctxCmd := &cobra.Command{
		Use:     "context",
		Short:   "Write the image's build context as a tar stream, for a manual build",
		Example: `  faaslab image context --with-iperf3 | docker build -t faaslab-runtime:latest -`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return docker.WriteContext(cmd.OutOrStdout(), opts)
		},
	}
	for _, c := range []*cobra.Command{build, ctxCmd} {
		c.Flags().StringVar(&opts.RuntimeBinary, "runtime-bin", "", "static faaslab-runtime (default: $FAASLAB_RUNTIME_BIN, next to faaslab, PATH)")
		c.Flags().BoolVar(&opts.WithIperf3, "with-iperf3", false, "include the host's iperf3 and its libraries (network micro-benchmark)")
	}
	cmd.AddCommand(build, ctxCmd)
	return cmd
}
