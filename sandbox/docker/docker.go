// Package docker is the sandbox backend that runs functions as Docker Engine containers —
// the paper's emulation (`docker run --memory … --cpus …` on a c3.large) — with the same
// resource model, hardening and held start as the native backend.
//
// A container runs the image's gate (`faaslab-runtime gate -- CMD...`, see
// deploy/image/Dockerfile) as its init process: Create starts the container with
// NetworkMode none, so its network namespace exists for netshape to plumb, while the gate
// holds CMD; Start sends SIGUSR1 and the gate execs CMD in place (same pid, same netns).
//
// Three things the engine does not give cheaply are done from the host (the daemon runs as
// root next to the engine): the CPU quota is written into the container's cgroup once the
// gate is up (and reported to the engine in the background), the release signal goes
// through a pidfd (the 20.10 engine's kill API takes 40–60 ms), and the pidfd's exit
// notice is when the final cgroup counters (memory peak, OOM kills) are read, just before
// the engine removes the cgroup.
package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/faaslab/faaslab/deploy/image"
	"github.com/faaslab/faaslab/sandbox"
)

const (
	// DefaultImage is the runtime image BuildImage tags.
	DefaultImage = "faaslab-runtime:latest"
	// DefaultCgroupParent holds every container of the backend (cgroupfs driver).
	DefaultCgroupParent = "/faaslab-docker"
	// DefaultScope is the value of the "faaslab" label when Config.Scope is empty.
	DefaultScope = "daemon"

	// LabelScope marks every container of faaslab; its value is the backend's scope, so
	// that Reap removes only the containers of one daemon (or one test).
	LabelScope = "faaslab"
	// LabelSandbox carries the sandbox ID.
	LabelSandbox = "faaslab.sandbox"
	// LabelFunction carries the function name.
	LabelFunction = "faaslab.function"
)

// Config configures the backend. Zero values take the defaults.
type Config struct {
	// CgroupParent (DefaultCgroupParent) is capped at Profile with the cgroupfs driver;
	// with the systemd driver it must be a slice name ("faaslab-docker.slice") and is
	// left to systemd.
	sandbox.BackendConfig
	// Image used when a Spec names none (DefaultImage).
	Image string
	// Profile caps CgroupParent (cpu quota = vCPUs × period, memory = profile memory).
	// A zero Profile (VCPUs == 0) leaves the parent uncapped.
	Profile sandbox.Profile
	// GatePath is the gate binary inside the image (image.RuntimePath).
	GatePath string
	// Scope is the value of the "faaslab" label on every container (DefaultScope).
	// Reap removes the containers of this scope only; tests use their own.
	Scope string
}

func (c Config) withDefaults() Config {
	c.BackendConfig = c.BackendConfig.WithDefaults(DefaultCgroupParent)
	c.Image = cmp.Or(c.Image, DefaultImage)
	c.GatePath = cmp.Or(c.GatePath, image.RuntimePath)
	c.Scope = cmp.Or(c.Scope, DefaultScope)
	return c
}

// SliceName is the systemd slice of a cgroup parent: a path ("/faaslab-docker") becomes
// "faaslab-docker.slice" ('/' → '-', as systemd nests slices by dashes); a slice name is
// kept.
func SliceName(parent string) string {
	if strings.HasSuffix(parent, ".slice") {
		return parent
	}
	return strings.ReplaceAll(strings.Trim(parent, "/"), "/", "-") + ".slice"
}

// Backend creates sandboxes as Docker containers. It satisfies sandbox.Backend.
type Backend struct {
	cfg      Config
	cli      *client.Client
	cgroupV2 bool
	parent   parentCgroup
	uids     *sandbox.UIDPool
	tmp      *sandbox.TmpImages // nil: /tmp is a tmpfs
	reg      sandbox.Registry[*Sandbox]
}

var _ sandbox.Backend = (*Backend)(nil)

// ErrNoEngine: no Docker Engine answers (start one with deploy/docker-up.sh).
var ErrNoEngine = errors.New("no Docker Engine answers")

// NewClient connects to the engine named by the environment (DOCKER_HOST, default the
// local socket) and negotiates the API version (the Debian engine speaks 1.41, EC2 boxes
// newer ones).
func NewClient(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	// Ping negotiates the version now rather than on the first container operation.
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w at %s (run deploy/docker-up.sh or `make docker-up`): %v",
			ErrNoEngine, cli.DaemonHost(), err)
	}
	return cli, nil
}

// New connects to the engine and prepares the parent cgroup capped at cfg.Profile.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	cfg = cfg.withDefaults()
	uids, err := sandbox.NewUIDPool(cfg.UIDBase, cfg.UIDCount)
	if err != nil {
		return nil, fmt.Errorf("docker backend: %w", err)
	}
	cli, err := NewClient(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := sandbox.OpenTmpImages(cfg.TmpDir, cfg.Logger, "container")
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker backend: %w", err)
	}
	info, err := cli.Info(ctx)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine info: %w", err)
	}
	if info.CgroupDriver == "systemd" {
		// The systemd driver takes slice names only (Docker's default on cgroup v2 systemd
		// hosts, such as Ubuntu 24.04 on EC2): a path parent becomes its slice.
		cfg.CgroupParent = SliceName(cfg.CgroupParent)
	}
	b := &Backend{cfg: cfg, cli: cli, cgroupV2: info.CgroupVersion == "2", uids: uids, tmp: tmp}
	b.parent = parentCgroup{v2: b.cgroupV2, path: cfg.CgroupParent}
	switch {
	case info.CgroupDriver == "systemd":
		cfg.Logger.Warn("docker backend: systemd cgroup driver, parent slice not capped at the host profile",
			"parent", cfg.CgroupParent)
	case cfg.Profile.VCPUs > 0:
		if err := b.parent.setup(cfg.Profile.HostResources()); err != nil {
			cli.Close()
			return nil, err
		}
	}
	cfg.Logger.Info("docker backend ready", "engine", info.ServerVersion, "api", cli.ClientVersion(),
		"cgroup", info.CgroupVersion, "driver", info.CgroupDriver, "parent", cfg.CgroupParent)
	return b, nil
}

// Name is "docker".
func (b *Backend) Name() string { return "docker" }

// Client is the engine client (for the CLI's image commands and for tests).
func (b *Backend) Client() *client.Client { return b.cli }

// Reap force-removes every container labelled faaslab=<Config.Scope>, then the /tmp
// images and mounts no live sandbox of this backend owns: what a crashed daemon of this
// scope left behind.
func (b *Backend) Reap(ctx context.Context) error {
	err := ReapScope(ctx, b.cli, b.cfg.Scope)
	if b.tmp == nil {
		return err
	}
	return errors.Join(err, b.tmp.Reap(b.reg.InUse))
}

// ReapScope force-removes the containers labelled faaslab=scope; scope "" removes every
// container carrying the faaslab label (`faaslab cleanup`). Only containers whose name
// starts with sandbox.NamePrefix are touched.
func ReapScope(ctx context.Context, cli *client.Client, scope string) error {
	label := LabelScope
	if scope != "" {
		label += "=" + scope
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
	if err != nil {
		return fmt.Errorf("list faaslab containers: %w", err)
	}
	var errs []error
	for _, c := range list {
		if !hasPrefixedName(c.Names) {
			continue
		}
		err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
		}
	}
	return errors.Join(errs...)
}

func hasPrefixedName(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(strings.TrimPrefix(n, "/"), sandbox.NamePrefix) {
			return true
		}
	}
	return false
}

// Close stops every sandbox of this backend, removes the parent cgroup it created and
// closes the client.
func (b *Backend) Close(ctx context.Context) error {
	var errs []error
	for _, s := range b.reg.Close() {
		errs = append(errs, s.Stop(ctx))
	}
	errs = append(errs, b.parent.remove())
	if b.tmp != nil {
		errs = append(errs, b.Reap(ctx), b.tmp.Close())
	}
	errs = append(errs, b.cli.Close())
	return errors.Join(errs...)
}
