package daemon

// The daemon's remote-side services (object store, iperf3 pool, dataset) and their CLI:
//
//	faaslab services          what runs: store endpoint, restarts, iperf3 pool
//	faaslab serve-s3 ...      (hidden) the embedded store; the daemon runs it in the remote netns

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/faaslab/faaslab/experiments/services"
	"github.com/faaslab/faaslab/experiments/services/dataset"
	"github.com/faaslab/faaslab/experiments/services/wan"
	"github.com/faaslab/faaslab/sandbox"
)

// ServicesConfig is the services: section of the daemon config.
type ServicesConfig struct {
	S3            services.StoreConfig `yaml:"s3"`
	IperfBasePort int                  `yaml:"iperf3_base_port"` // first port of the iperf3 pool
	WAN           wan.Config           `yaml:"wan"`              // RTT and per-connection rate on the path to the store (off by default)
}

func defaultServicesConfig() ServicesConfig {
	return ServicesConfig{S3: services.DefaultStoreConfig(), IperfBasePort: services.DefaultIperfBasePort}
}

// daemonServices are the running services of one daemon.
type daemonServices struct {
	store *services.Store
	iperf *services.IperfPool
	data  *dataset.Cache
}

// startServices starts the object store and makes the (empty) iperf3 pool; the store's
// credentials, endpoint and CA go to every sandbox.
func (d *Daemon) startServices() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("services: find own binary: %w", err)
	}
	model, err := d.cfg.Services.WAN.Parse()
	if err != nil {
		return err
	}
	if model.Enabled() && d.cfg.Services.S3.Mode != services.StoreEmbedded {
		return fmt.Errorf("services.wan needs services.s3.mode %s (got %q): the model lives in the embedded store's listener", services.StoreEmbedded, d.cfg.Services.S3.Mode)
	}
	m := services.NewMetrics(d.registry)
	store, err := services.StartStore(d.cfg.Services.S3, services.StoreDeps{
		Remote: d.host, Self: self, StateDir: d.cfg.StateDir, Region: d.cfg.Region, Log: d.log, Metrics: m, WAN: model,
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
func (d *Daemon) platformEnv() map[string]string {
	if d.svc == nil {
		return nil
	}
	return d.svc.store.Env()
}

func (d *Daemon) platformMounts() []sandbox.Mount {
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

func registerServicesAPI(mux *http.ServeMux, d *Daemon) {
	if d.svc == nil {
		return
	}
	mux.HandleFunc("GET /faaslab/v1/services", services.MakeServicesHandler(d.svc.store, d.svc.iperf))
	mux.HandleFunc("POST /faaslab/v1/services/iperf3", services.MakeIperfPoolHandler(d.svc.iperf))
	mux.HandleFunc("GET /faaslab/v1/data", dataset.MakeListHandler(d.svc.data))
	mux.HandleFunc("POST /faaslab/v1/data/{set}", dataset.MakeEnsureHandler(d.svc.data))
	mux.HandleFunc("DELETE /faaslab/v1/data/uploads/{run}", dataset.MakeDeleteUploadsHandler(d.svc.data))
}
