package main

// The daemon's remote-side services (object store, iperf3 pool, dataset) and their CLI:
//
//	faaslab services          what runs: store endpoint, restarts, iperf3 pool
//	faaslab serve-s3 ...      (hidden) the embedded store; the daemon runs it in the remote netns

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/services"
	"github.com/faaslab/faaslab/experiments/services/dataset"
	"github.com/faaslab/faaslab/experiments/services/s3gw"
	"github.com/faaslab/faaslab/sandbox"
)

// servicesConfig is the services: section of the daemon config.
type servicesConfig struct {
	S3            services.StoreConfig `yaml:"s3"`
	IperfBasePort int                  `yaml:"iperf3_base_port"` // first port of the iperf3 pool
}

func defaultServicesConfig() servicesConfig {
	return servicesConfig{S3: services.DefaultStoreConfig(), IperfBasePort: services.DefaultIperfBasePort}
}

// daemonServices are the running services of one daemon.
type daemonServices struct {
	store *services.Store
	iperf *services.IperfPool
	data  *dataset.Cache
}

// startServices starts the object store and makes the (empty) iperf3 pool; the store's
// credentials, endpoint and CA go to every sandbox.
func (d *daemon) startServices() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("services: find own binary: %w", err)
	}
	m := services.NewMetrics(d.registry)
	store, err := services.StartStore(d.cfg.Services.S3, services.StoreDeps{
		Remote: d.host, Self: self, StateDir: d.cfg.StateDir, Region: d.cfg.Region, Log: d.log, Metrics: m,
	})
	if err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	d.svc = &daemonServices{
		store: store,
		iperf: services.NewIperfPool(d.host, d.cfg.Services.IperfBasePort, services.DefaultIperfMax, d.log, m),
		data:  dataset.NewCache(filepath.Join(d.cfg.StateDir, "datasets"), store),
	}
	return nil
}

// platformEnv and platformMounts are what every sandbox gets from the services.
func (d *daemon) platformEnv() map[string]string {
	if d.svc == nil {
		return nil
	}
	return d.svc.store.Env()
}

func (d *daemon) platformMounts() []sandbox.Mount {
	if d.svc == nil || d.svc.store.CAFile() == "" {
		return nil
	}
	return []sandbox.Mount{{Source: d.svc.store.CAFile(), Target: services.CABundlePath, ReadOnly: true}}
}

func (s *daemonServices) close() {
	if s == nil {
		return
	}
	s.iperf.Close()
	s.store.Close()
}

func registerServicesAPI(mux *http.ServeMux, d *daemon) {
	if d.svc == nil {
		return
	}
	mux.HandleFunc("GET /faaslab/v1/services", services.MakeServicesHandler(d.svc.store, d.svc.iperf))
	mux.HandleFunc("POST /faaslab/v1/services/iperf3", services.MakeIperfPoolHandler(d.svc.iperf))
	mux.HandleFunc("GET /faaslab/v1/data", dataset.MakeListHandler(d.svc.data))
	mux.HandleFunc("POST /faaslab/v1/data/{set}", dataset.MakeEnsureHandler(d.svc.data))
}

func newServicesCmd() *cobra.Command {
	var endpoint string
	cmd := &cobra.Command{
		Use:   "services",
		Short: "Show the remote-side services of a running daemon: object store and iperf3 pool",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := client.New(endpoint).Services(cmd.Context())
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), st)
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", client.DefaultEndpoint, "the daemon's API")
	return cmd
}

// newServeS3Cmd is the embedded store's process (hidden: the daemon starts it inside the
// remote netns). The key pair comes in the environment, not argv, so ps does not show it.
func newServeS3Cmd() *cobra.Command {
	var o s3gw.Options
	cmd := &cobra.Command{
		Use:    "serve-s3",
		Short:  "Run the embedded S3 store (started by the daemon)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.AccessKey, o.SecretKey = os.Getenv("FAASLAB_S3_ACCESS_KEY"), os.Getenv("FAASLAB_S3_SECRET_KEY")
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
	return cmd
}
