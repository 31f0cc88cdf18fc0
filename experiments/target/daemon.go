package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/faaslab/faaslab/client"
)

// DaemonOptions say how to start a private `faaslab daemon`: its own link prefix, subnet,
// cgroup parent, ports and state directory, so it never touches another daemon's objects.
type DaemonOptions struct {
	Bin          string // the faaslab binary
	RuntimeBin   string // faaslab-runtime ("" = the daemon's default)
	Prefix       string // link/netns prefix, starts with faaslab
	Subnet       string // e.g. 10.212.0.0/16
	CgroupParent string // e.g. /faaslabx
	Listen       string // host:port of the API
	RuntimePort  int
	StateDir     string
	NIC          string    // --nic ("" = the profile's)
	Log          io.Writer // the daemon's stdout and stderr (nil = discarded)
}

// Daemon is a `faaslab daemon` subprocess the runner owns.
type Daemon struct {
	opts DaemonOptions
	cfg  HostConfig
	cmd  *exec.Cmd
	done chan struct{}
	host *HTTPHost
}

// Launch starts a daemon running cfg and waits until its API answers.
func Launch(ctx context.Context, o DaemonOptions, cfg HostConfig) (*Daemon, error) {
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"daemon", "--listen", o.Listen, "--state-dir", o.StateDir,
		"--cgroup-parent", o.CgroupParent, "--net-prefix", o.Prefix, "--subnet", o.Subnet,
		"--runtime-port", strconv.Itoa(o.RuntimePort), "--keep-alive", "30m", "--log-level", "warn"}
	for flag, v := range map[string]string{"--runtime-bin": o.RuntimeBin, "--profile": cfg.Profile,
		"--backend": cfg.Backend, "--cpu-model": cfg.CPUModel, "--nic": o.NIC} {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	d := &Daemon{opts: o, cfg: cfg, done: make(chan struct{})}
	d.cmd = exec.Command(o.Bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = o.Log, o.Log
	// Its own process group: Ctrl-C reaches the runner only, which then cleans up through
	// the daemon before stopping it.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s daemon: %w", o.Bin, err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	c := client.New("http://" + o.Listen)
	d.host = NewHTTPHost(c)
	d.host.RecordsPath = filepath.Join(o.StateDir, "records.jsonl")
	if err := d.waitReady(ctx, c); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) waitReady(ctx context.Context, c *client.Client) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Policy(rctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("the daemon exited at start (%v): see its log", d.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon at %s did not answer within 30 s: %w", d.opts.Listen, err)
		}
	}
}

// Host is the daemon as a Host.
func (d *Daemon) Host() *HTTPHost { return d.host }

// Stop stops the daemon (SIGTERM: it removes every object it made),
// then runs `faaslab cleanup` with its flags in case it could not.
func (d *Daemon) Stop() error {
	var err error
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
			err = errors.New("the daemon did not stop within 30 s of SIGTERM: killed")
		}
	}
	out, cerr := exec.Command(d.opts.Bin, "cleanup", "--net-prefix", d.opts.Prefix, "--cgroup-parent", d.opts.CgroupParent).CombinedOutput()
	if cerr != nil {
		err = errors.Join(err, fmt.Errorf("cleanup after the daemon: %v: %s", cerr, out))
	}
	return err
}

// LocalFleet is one daemon the runner starts itself (no --endpoint), restarted when a
// trial needs another CPU model, profile or backend.
type LocalFleet struct {
	Opts DaemonOptions
	cur  *Daemon
}

// Hosts returns the daemon running cfg, (re)starting it if needed.
func (f *LocalFleet) Hosts(ctx context.Context, cfg HostConfig) ([]Host, error) {
	if f.cur != nil && f.cur.cfg == cfg {
		return []Host{f.cur.Host()}, nil
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	d, err := Launch(ctx, f.Opts, cfg)
	if err != nil {
		return nil, err
	}
	f.cur = d
	return []Host{d.Host()}, nil
}

// Accepts every configuration: the daemon is restarted with it.
func (f *LocalFleet) Accepts([]HostConfig) error { return nil }

// Describe names the private daemon.
func (f *LocalFleet) Describe() ([]string, []string) {
	return []string{"http://" + f.Opts.Listen + " (started by the runner)"}, nil
}

// Close stops the daemon.
func (f *LocalFleet) Close() error {
	if f.cur == nil {
		return nil
	}
	err := f.cur.Stop()
	f.cur = nil
	return err
}

// EndpointFleet is daemons someone else started (--endpoint, one per host). Their CPU
// model, profile and backend are what they were started with: the runner cannot change
// them, so a spec asking for two CPU models is refused rather than silently mismeasured.
type EndpointFleet struct {
	Endpoints []string
	cfg       *HostConfig
}

// Hosts returns a host per endpoint; cfg is taken as what they run.
func (f *EndpointFleet) Hosts(_ context.Context, cfg HostConfig) ([]Host, error) {
	if f.cfg != nil && *f.cfg != cfg {
		return nil, fmt.Errorf("%w: the spec asks for %+v after %+v, but daemons given with --endpoint keep what they were started with; run each CPU model against daemons started with --cpu-model, or let the runner start its own", ErrConfig, cfg, *f.cfg)
	}
	f.cfg = &cfg
	hosts := make([]Host, len(f.Endpoints))
	for i, e := range f.Endpoints {
		hosts[i] = NewHTTPHost(client.New(e))
	}
	return hosts, nil
}

// Accepts one configuration: what the daemons were started with.
func (f *EndpointFleet) Accepts(cfgs []HostConfig) error {
	for _, c := range cfgs {
		if c != cfgs[0] {
			return fmt.Errorf("%w: the spec needs %+v and %+v, but daemons given with --endpoint keep what they were started with; run each against daemons started with it (e.g. --cpu-model), or let the runner start its own", ErrConfig, cfgs[0], c)
		}
	}
	return nil
}

// Describe lists the endpoints and what the runner takes on trust.
func (f *EndpointFleet) Describe() ([]string, []string) {
	var un []string
	if f.cfg != nil {
		un = append(un, fmt.Sprintf("profile %s, backend %s and cpu_model %s are assumed, not checked: the daemons at --endpoint were started by someone else", f.cfg.Profile, f.cfg.Backend, f.cfg.CPUModel))
	}
	un = append(un, "the daemons' records files are not read (remote): duration_ms, billed_duration_ms, init_duration_ms and cold are empty")
	return f.Endpoints, un
}

// Close does nothing: the daemons are not the runner's.
func (f *EndpointFleet) Close() error { return nil }
