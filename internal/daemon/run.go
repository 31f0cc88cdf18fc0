package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faaslab/faaslab/experiments/progress"
	"github.com/faaslab/faaslab/internal/jsonl"
	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/netapi"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/scheduler"
	"github.com/faaslab/faaslab/scheduler/api"
	"github.com/faaslab/faaslab/scheduler/urls"
)

// daemon is one running host: every component and how to stop them in order.
type Daemon struct {
	cfg       Config
	profile   sandbox.Profile
	log       *slog.Logger
	registry  *prometheus.Registry
	backend   sandbox.Backend
	host      *netshape.Host
	shaper    *lazyShaper
	runtime   *runtime.Server
	sched     *scheduler.Scheduler
	apiServer *http.Server
	rtServer  *http.Server
	records   *os.File
	apiLn     net.Listener
	shared    *sharedNet // network mode shared only
	svc       *daemonServices
	urlServer *http.Server
	urls      *urls.Store
	urlRecent *urls.Recent
	urlLo     net.Listener // function URLs on loopback, bound before the network
	urlPort   int          // the function URL listener's port (loopback and gateway)
	progress  *progress.Progress
	access    api.Access
	lock      *configLock // held from before the reap to the end of Stop
}

// Run starts a daemon, serves until ctx ends, then stops it cleanly.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	d, err := Start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	logger.Info("faaslab daemon ready", "api", "http://"+d.apiLn.Addr().String(),
		"backend", cfg.Backend, "profile", cfg.Profile, "policy", cfg.Network.Policy,
		"runtime_api", d.rtServer.Addr)
	errc := make(chan error, 2)
	go func() { errc <- serveHTTP(d.apiServer, d.apiLn) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
		logger.Error("API server failed", "err", err)
	}
	logger.Info("stopping: removing every sandbox and kernel object")
	stopCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if serr := d.Stop(stopCtx); serr != nil {
		return errors.Join(err, serr)
	}
	logger.Info("stopped cleanly")
	return err
}

// Serve serves the Lambda and host APIs on the daemon's listener until Stop; Run does it
// for the CLI, in-process users (benchmarks) call it themselves.
func (d *Daemon) Serve() error { return serveHTTP(d.apiServer, d.apiLn) }

// Endpoint is the API's base URL, e.g. http://127.0.0.1:3001.
func (d *Daemon) Endpoint() string { return "http://" + d.apiLn.Addr().String() }

// Config is the configuration the daemon runs with.
func (d *Daemon) Config() Config { return d.cfg }

func serveHTTP(s *http.Server, ln net.Listener) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Start reaps what a crashed daemon of this configuration left, then builds the host:
// backend, network (bridge, uplink, remote, shaping), Runtime API, scheduler, Lambda API.
// On error everything already made is removed.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (d *Daemon, err error) {
	// Absolute from here on: the object store's child changes its working directory, and
	// sandboxes bind-mount code from under the state directory.
	if cfg.StateDir, err = filepath.Abs(cfg.StateDir); err != nil {
		return nil, fmt.Errorf("state_dir %q: %w", cfg.StateDir, err)
	}
	d = &Daemon{cfg: cfg, log: logger, registry: prometheus.NewRegistry()}
	d.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.progress, err = progress.New(d.registry); err != nil {
		return nil, err
	}
	built := d // `return nil, err` clears d before this defer runs
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			built.Stop(stopCtx)
		}
	}()
	profile, err := sandbox.LookupProfile(cfg.Profile)
	if err != nil {
		return nil, err
	}
	d.profile = profile
	cpuModel, err := sandbox.ParseCPUModel(cfg.CPUModel)
	if err != nil {
		return nil, err
	}
	policy, err := shape.ParsePolicyConfig(cfg.Network.policySpec(), profile.NICBitsPerSec)
	if err != nil {
		return nil, err
	}
	if err := shape.DetectFeatures().Check(policy); err != nil {
		return nil, fmt.Errorf("policy %s cannot run on this kernel: %w", policy.Name, err)
	}
	if err := CheckNetworkMode(cfg, policy); err != nil {
		return nil, err
	}
	if err := d.listenURLs(&cfg); err != nil {
		return nil, err
	}
	netCfg, err := NetshapeConfig(cfg.Network)
	if err != nil {
		return nil, err
	}
	if d.access, err = accessFor(cfg, netCfg.Subnet); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if _, err := os.Stat(cfg.RuntimeBin); err != nil {
		return nil, fmt.Errorf("runtime bootstrap %s: %w (build it with `make build` or pass --runtime-bin)", cfg.RuntimeBin, err)
	}

	if d.lock, err = lockConfig(cfg); err != nil {
		return nil, err
	}
	if err := reap(ctx, cfg, netCfg, logger); err != nil {
		return nil, err
	}
	if d.backend, err = newBackend(ctx, cfg, profile, logger); err != nil {
		return nil, err
	}

	d.shaper = &lazyShaper{}
	netCfg.Shaper = d.shaper
	if d.host, err = netshape.NewHost(ctx, netCfg, logger); err != nil {
		return nil, fmt.Errorf("host network: %w", err)
	}
	d.registry.MustRegister(netshape.NewMetrics(d.host))
	if err := d.startShaper(policy); err != nil {
		return nil, err
	}

	if err := d.startServices(); err != nil {
		return nil, err
	}
	if err := d.startRuntimeAPI(); err != nil {
		return nil, err
	}
	if cfg.isShared() {
		if d.shared, err = newSharedNet(cfg, d.host, d.shaper, d.runtime, logger); err != nil {
			return nil, err
		}
	}
	if err := d.startScheduler(profile, cpuModel); err != nil {
		return nil, err
	}
	if err := d.startURLs(); err != nil {
		return nil, err
	}
	// Bound last: a client that waits for the port to accept finds everything up.
	if d.apiLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	d.apiServer = &http.Server{Handler: api.Guard(d.apiHandler(), api.Limits{}), ReadHeaderTimeout: 10 * time.Second}
	return d, nil
}

func (d *Daemon) startShaper(policy shape.PolicyConfig) error {
	hostEnd, remoteEnd, remoteNS := d.host.UplinkLinks()
	s, err := shape.New(shape.Links{UplinkHost: hostEnd, UplinkRemote: remoteEnd, RemoteNetNS: remoteNS},
		policy, d.registry, d.log)
	if err != nil {
		return fmt.Errorf("shaping policy %s: %w", policy.Name, err)
	}
	d.shaper.set(s)
	return d.shaper.Update(d.host.Members())
}

func (d *Daemon) startRuntimeAPI() error {
	d.runtime = runtime.NewServer(d.log)
	addr := hostPort(d.host.Gateway(), d.cfg.Network.RuntimePort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("runtime API on %s: %w", addr, err)
	}
	d.rtServer = &http.Server{Addr: addr, Handler: d.runtime.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go serveHTTP(d.rtServer, ln)
	return nil
}

func (d *Daemon) startScheduler(profile sandbox.Profile, cpuModel sandbox.CPUModel) error {
	sc := scheduler.DefaultConfig()
	sc.Profile, sc.CPUModel = profile, cpuModel
	sc.StateDir, sc.RuntimeBin = d.cfg.StateDir, d.cfg.RuntimeBin
	sc.KeepAlive, sc.Region, sc.HostID = d.cfg.KeepAlive, d.cfg.Region, d.cfg.HostID
	sc.SandboxPrefix = d.cfg.Network.Prefix
	sc.ImageFunctions = d.cfg.Backend == "docker"
	sc.LogDir = filepath.Join(d.cfg.StateDir, "logs")
	sc.Mounts = d.platformMounts()
	sc.Logger = d.log
	recordsPath := d.cfg.Records
	if recordsPath == "" {
		recordsPath = filepath.Join(d.cfg.StateDir, "records.jsonl")
	}
	f, err := jsonl.OpenAppend(recordsPath) // a line torn by a crash would break every later read
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	d.records, sc.Records = f, f
	deps := scheduler.Deps{
		Backend: d.backend,
		Network: networkAdapter{host: d.host, shaper: d.shaper},
		Runtime: runtimeAdapter{server: d.runtime, apiAddr: d.rtServer.Addr, platformEnv: d.platformEnv()},
	}
	if d.shared != nil {
		deps.Network, deps.Runtime = d.shared, d.shared.runtimeAPI()
	}
	d.sched, err = scheduler.New(sc, deps, d.registry)
	return err
}

func (d *Daemon) apiHandler() http.Handler {
	mux := http.NewServeMux()
	api.Register(mux, api.Deps{Service: d.sched, Logger: d.log, URLs: d.urls})
	urls.RegisterHostAPI(mux, d.urls, d.urlRecent)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
	netapi.Register(mux, netapi.Deps{
		Sample:               d.host.Sample,
		Shaper:               d.shaper.get,
		DefaultNICBitsPerSec: d.profile.NICBitsPerSec,
		Check: func(p shape.PolicyConfig) error {
			if err := CheckNetworkMode(d.cfg, p); err != nil { // mode shared can only run netprio
				return err
			}
			return shape.DetectFeatures().Check(p)
		},
	})
	registerServicesAPI(mux, d)
	registerObserveAPI(mux, d)
	mux.HandleFunc("/", api.UnknownOperation)
	return d.access.Wrap(mux)
}

// stop tears down in reverse order of start; every step runs even when one fails.
func (d *Daemon) Stop(ctx context.Context) error {
	var errs []error
	if d.apiServer != nil {
		d.apiServer.Shutdown(ctx)
	} else if d.apiLn != nil {
		d.apiLn.Close()
	}
	if d.urlServer != nil {
		d.urlServer.Shutdown(ctx)
	} else if d.urlLo != nil {
		d.urlLo.Close()
	}
	if d.sched != nil {
		errs = append(errs, d.sched.Close(ctx))
	}
	if d.rtServer != nil {
		d.rtServer.Close()
	}
	if d.shared != nil {
		errs = append(errs, d.shared.Close()) // before the host closes the shaper
	}
	d.svc.close() // before the remote netns goes
	if d.host != nil {
		errs = append(errs, d.host.Close(ctx)) // closes the shaper too
	}
	if d.backend != nil {
		errs = append(errs, d.backend.Close(ctx))
	}
	if d.records != nil {
		d.records.Close()
	}
	d.lock.release() // last: everything of this configuration is gone
	return errors.Join(errs...)
}

func NetshapeConfig(n NetworkConfig) (netshape.Config, error) {
	subnet, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return netshape.Config{}, fmt.Errorf("--subnet %q: %w", n.Subnet, err)
	}
	ports := []int{n.RuntimePort}
	if n.URLPort > 0 { // function URLs; 0 in a config only before the daemon picked it
		ports = append(ports, n.URLPort)
	}
	c := netshape.Config{Name: n.Prefix, Subnet: subnet, AllowSandboxToSandbox: n.AllowSandboxToSandbox,
		HostPorts: append(ports, n.HostPorts...)}.WithDefaults()
	return c, c.Validate()
}
