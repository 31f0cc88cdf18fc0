package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/experiments/services/s3gw"
	"github.com/faaslab/faaslab/experiments/services/wan"
)

func newServicesCmd() *cobra.Command {
	d := &daemonFlags{}
	cmd := callCmd("services", "Show the remote-side services of a running daemon: object store and iperf3 pool", cobra.NoArgs,
		func(ctx context.Context, _ []string) (any, error) { return d.client().Services(ctx) })
	d.bind(cmd)
	return cmd
}

// newServeS3Cmd is the embedded store's process (hidden: the daemon starts it inside the
// remote netns). The key pair comes in the environment, not argv, so ps does not show it.
func newServeS3Cmd() *cobra.Command {
	var o s3gw.Options
	var wanCfg wan.Config
	cmd := &cobra.Command{
		Use:    "serve-s3",
		Short:  "Run the embedded S3 store (started by the daemon)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.AccessKey, o.SecretKey = os.Getenv("FAASLAB_S3_ACCESS_KEY"), os.Getenv("FAASLAB_S3_SECRET_KEY")
			m, err := wanCfg.Parse()
			if err != nil {
				return err
			}
			o.WAN = m
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return s3gw.Serve(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Root, "root", "", "directory of the buckets")
	f.StringVar(&o.Listen, "listen", "", "host:port")
	f.StringVar(&o.Region, "region", "us-east-1", "region")
	f.StringVar(&o.CertFile, "cert", "", "TLS certificate (HTTPS when given)")
	f.StringVar(&o.KeyFile, "key", "", "TLS key")
	f.StringVar(&o.IAMDir, "iam-dir", "", "internal IAM directory (unknown key ids get 403 InvalidAccessKeyId)")
	f.DurationVar(&wanCfg.RTT, "wan-rtt", 0, "WAN model: round-trip time added to every connection")
	f.StringVar(&wanCfg.RatePerConnection, "wan-rate", "", "WAN model: rate of each connection, e.g. 100mbit")
	return cmd
}
