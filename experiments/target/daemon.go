package target

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/netshape"

	"golang.org/x/sys/unix"
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
	// CPUs pins the daemon and everything it starts (store, iperf3 servers, native
	// sandboxes) to these CPUs of this machine; nil: any CPU.
	CPUs []int
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
	if err := startPinned(d.cmd, o.CPUs); err != nil {
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

// startPinned starts cmd from an OS thread whose CPU affinity is cpus (none: as is). A
// child inherits the affinity of the thread that forked it, and so does every process it
// starts in turn.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("read CPU affinity: %w", err)
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPUs %v: %w", cpus, err)
	}
	defer unix.SchedSetaffinity(0, &old) // before the thread is unlocked (defers run last-in first)
	return cmd.Start()
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

// LocalFleet is the daemons the runner starts itself (no --endpoint): Count emulated
// hosts on this machine (default one), each a daemon with its own link prefix, subnet,
// cgroup parent, ports, state directory and so its own emulated NIC, all restarted
// when a trial needs another CPU model, profile or backend. Trials then run in parallel,
// one per host, as on a fleet of boxes: sound only while this machine has CPU to spare.
type LocalFleet struct {
	Opts  DaemonOptions
	Count int // emulated hosts; 0 or 1: one
	// MachineCPUs are the CPUs the hosts share (nil: those this process may run on). With
	// several hosts and at least one CPU each, they are split evenly and each host is
	// pinned to its share, so that a CPU-bound function of one host is not slowed by
	// another host's trial.
	MachineCPUs []int
	cur         []*Daemon
	log         *os.File // opened by OpenLocalFleet, closed by Close
}

// MaxHosts bounds the emulated hosts of one LocalFleet.
const MaxHosts = 8

// OpenLocalFleet is count private daemons of bin (this faaslab) keeping their state and
// log under dir: dir/.daemon-state is kept between runs (the generated dataset is reused;
// the runner deletes its functions, so nothing else accumulates) and dir/daemon.log is
// appended to. Every host's names, ports and subnet are checked before anything starts.
func OpenLocalFleet(dir, bin string, opts DaemonOptions, count int) (*LocalFleet, error) {
	if count < 1 || count > MaxHosts {
		return nil, fmt.Errorf("%w: %d emulated hosts, want 1-%d", ErrConfig, count, MaxHosts)
	}
	state := filepath.Join(dir, ".daemon-state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	opts.Bin, opts.StateDir, opts.Log = bin, state, logf
	f := &LocalFleet{Opts: opts, Count: count, log: logf}
	for i := range count {
		if _, err := f.HostOptions(i); err != nil {
			logf.Close()
			return nil, fmt.Errorf("%d emulated hosts: %w", count, err)
		}
	}
	return f, nil
}

// count is the number of emulated hosts.
func (f *LocalFleet) count() int { return max(f.Count, 1) }

// HostOptions are host i's daemon options (0 ≤ i < Count). Host 0 keeps the given names;
// host i > 0 appends "h<i>" to the link prefix and cgroup parent, takes the next ports
// and its own state directory, whose dataset cache is host 0's (a symlink: generated
// once, hard-linked into each store). With several hosts the subnet is split evenly.
func (f *LocalFleet) HostOptions(i int) (DaemonOptions, error) {
	o := f.Opts
	n := f.count()
	if n > 1 {
		sub, err := SplitSubnet(o.Subnet, n, i)
		if err != nil {
			return o, err
		}
		o.Subnet = sub
	}
	if cpus := f.machineCPUs(); n > 1 && n <= len(cpus) {
		share := len(cpus) / n
		o.CPUs = slices.Clone(cpus[i*share : (i+1)*share])
	}
	if i == 0 {
		if err := netshape.ValidateName(o.Prefix); err != nil {
			return o, fmt.Errorf("daemon prefix: %w", err)
		}
		return o, nil
	}
	suffix := "h" + strconv.Itoa(i)
	if err := netshape.ValidateName(o.Prefix + suffix); err != nil {
		return o, fmt.Errorf("daemon prefix %q leaves no room for host %d's suffix %q: %w", o.Prefix, i, suffix, err)
	}
	o.Prefix += suffix
	o.CgroupParent += suffix
	o.RuntimePort += i
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return o, fmt.Errorf("listen %q: %w", o.Listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return o, fmt.Errorf("listen %q: want host:port", o.Listen)
	}
	o.Listen = net.JoinHostPort(host, strconv.Itoa(p+i))
	o.StateDir = f.Opts.StateDir + "-" + suffix
	return o, nil
}

// machineCPUs are the CPUs to split between the hosts.
func (f *LocalFleet) machineCPUs() []int {
	if f.MachineCPUs != nil {
		return f.MachineCPUs
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil // no pinning
	}
	var cpus []int
	for c := 0; len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// SplitSubnet is part i of n equal parts of the IPv4 prefix subnet.
func SplitSubnet(subnet string, n, i int) (string, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("subnet %q: want an IPv4 prefix such as 10.212.0.0/16", subnet)
	}
	bits := 0
	for 1<<bits < n {
		bits++
	}
	if p.Bits()+bits > 24 {
		return "", fmt.Errorf("subnet %s is too small for %d hosts (each needs at least a /24)", subnet, n)
	}
	base := binary.BigEndian.Uint32(p.Masked().Addr().AsSlice())
	part := base + uint32(i)<<(32-p.Bits()-bits)
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], part)
	return netip.PrefixFrom(netip.AddrFrom4(a), p.Bits()+bits).String(), nil
}

// shareDatasets points host state directory dir's dataset cache at host 0's.
func shareDatasets(host0, dir string) error {
	if err := os.MkdirAll(filepath.Join(host0, "datasets"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	link := filepath.Join(dir, "datasets")
	target, err := filepath.Abs(filepath.Join(host0, "datasets"))
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	os.Remove(link) // a stale link; a real directory stays and errors below
	return os.Symlink(target, link)
}

// Hosts returns the daemons running cfg, (re)starting them if needed.
func (f *LocalFleet) Hosts(ctx context.Context, cfg HostConfig) ([]Host, error) {
	if len(f.cur) == 0 || f.cur[0].cfg != cfg {
		if err := f.Close(); err != nil {
			return nil, err
		}
		for i := range f.count() {
			o, err := f.HostOptions(i)
			if err == nil && i > 0 {
				err = shareDatasets(f.Opts.StateDir, o.StateDir)
			}
			if err != nil {
				return nil, errors.Join(fmt.Errorf("host %d: %w", i, err), f.Close())
			}
			d, err := Launch(ctx, o, cfg)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("host %d: %w", i, err), f.Close())
			}
			f.cur = append(f.cur, d)
		}
	}
	hosts := make([]Host, len(f.cur))
	for i, d := range f.cur {
		hosts[i] = d.Host()
	}
	return hosts, nil
}

// Accepts every configuration: the daemons are restarted with it.
func (f *LocalFleet) Accepts([]HostConfig) error { return nil }

// Describe names the private daemons.
func (f *LocalFleet) Describe() ([]string, []string) {
	var eps []string
	for i := range f.count() {
		o, err := f.HostOptions(i)
		if err != nil {
			continue
		}
		how := "started by the runner"
		if len(o.CPUs) > 0 {
			how += fmt.Sprintf(", pinned to CPUs %v", o.CPUs)
		}
		eps = append(eps, "http://"+o.Listen+" ("+how+")")
	}
	return eps, nil
}

// Close stops the daemons (and closes the log OpenLocalFleet opened). Idempotent.
func (f *LocalFleet) Close() error {
	var errs []error
	for _, d := range f.cur {
		errs = append(errs, d.Stop())
	}
	f.cur = nil
	if f.log != nil {
		errs = append(errs, f.log.Close())
		f.log = nil
	}
	return errors.Join(errs...)
}

// EndpointFleet is daemons someone else started (--endpoint, one per host). Their CPU
// model, profile and backend are what they were started with: the runner cannot change
// them, so a spec asking for two CPU models is refused rather than silently mismeasured.
type EndpointFleet struct {
	Endpoints []string
	Options   []client.Option // e.g. client.WithBearerToken for daemons beyond loopback
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
		hosts[i] = NewHTTPHost(client.New(e, f.Options...))
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
