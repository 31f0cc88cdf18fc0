package main

// faaslab data list|generate|load: the workload data in the embedded object store.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/experiments/services"
	"github.com/faaslab/faaslab/experiments/services/dataset"
	"github.com/faaslab/faaslab/internal/daemon"
)

func newDataCmd() *cobra.Command {
	cmd, d := daemonGroup("data", "Workload data in the object store: the paper's chunk sets and your own files")
	list := callCmd("list", "Print the manifest of generated sets (keys, sizes, SHA-256)", cobra.NoArgs,
		func(ctx context.Context, _ []string) (any, error) { return d.client().DataSets(ctx) })
	var count int
	gen := callCmd("generate SET", "Generate (once) and place a chunk set: 10mb, 20mb, 50mb, 100mb or 200mb", cobra.ExactArgs(1),
		func(ctx context.Context, args []string) (any, error) {
			return d.client().EnsureDataSet(ctx, args[0], count)
		})
	gen.Flags().IntVar(&count, "count", 0, "objects (default: 1 GB worth, e.g. 100 × 10 MB)")
	var stateDir string
	load := &cobra.Command{
		Use:   "load DIR BUCKET",
		Short: "Place the files under DIR into BUCKET of the embedded store (hard links; key = relative path)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stateDir == "" { // the daemon's, as it resolves its configuration
				cfg, err := daemon.ResolveConfig("", os.LookupEnv, nil, nil)
				if err != nil {
					return err
				}
				stateDir = cfg.StateDir
			}
			files, bytes, err := dataset.Load(bucketDirs(stateDir), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loaded %d files, %d bytes into bucket %s\n", files, bytes, args[1])
			return nil
		},
	}
	load.Flags().StringVar(&stateDir, "state-dir", "", fmt.Sprintf("the daemon's state dir (default: its state_dir from $FAASLAB_CONFIG or $FAASLAB_STATE_DIR, else %s)", daemon.DefaultConfig().StateDir))
	cmd.AddCommand(list, gen, load)
	return cmd
}

// bucketDirs names bucket directories of the embedded store under a state dir.
type bucketDirs string

func (b bucketDirs) BucketDir(bucket string) (string, error) {
	if err := services.ValidBucket(bucket); err != nil {
		return "", err
	}
	return filepath.Join(string(b), "s3", bucket), nil
}
