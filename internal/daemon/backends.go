package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/faaslab/faaslab/netshape"
	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/docker"
	"github.com/faaslab/faaslab/sandbox/native"
)

// newBackend builds the configured sandbox backend, its parent cgroup capped at the
// profile. In network mode shared (native only, checked by CheckNetworkMode) sandboxes
// stay in the host netns.
func newBackend(ctx context.Context, cfg Config, profile sandbox.Profile, logger *slog.Logger) (sandbox.Backend, error) {
	switch cfg.Backend {
	case "native", "":
		// The small static bootstrap doubles as the sandbox init: it starts far faster than
		// this binary would.
		return native.New(native.Config{BackendConfig: nativeBase(cfg, logger), Host: profile.HostResources(),
			InitBinary: cfg.RuntimeBin, HostNetwork: cfg.isShared()})
	case "docker":
		return docker.New(ctx, docker.Config{BackendConfig: dockerBase(cfg, logger), Image: cfg.Docker.Image,
			Profile: profile, Scope: cfg.Network.Prefix})
	}
	return nil, fmt.Errorf("unknown backend %q (want native or docker)", cfg.Backend)
}

func nativeBase(cfg Config, logger *slog.Logger) sandbox.BackendConfig {
	return sandbox.BackendConfig{CgroupParent: cfg.CgroupRoot, Logger: logger}
}

// dockerBase keeps docker sandboxes apart from native ones of the same daemon config.
func dockerBase(cfg Config, logger *slog.Logger) sandbox.BackendConfig {
	return sandbox.BackendConfig{CgroupParent: cfg.CgroupRoot + "-docker", Logger: logger}
}

// Reap is `faaslab cleanup`: it removes what a crashed daemon with this configuration
// left, refusing (ErrRunning) while such a daemon runs.
func Reap(ctx context.Context, cfg Config, netCfg netshape.Config, logger *slog.Logger) error {
	l, err := lockConfig(cfg)
	if err != nil {
		return err
	}
	defer l.release()
	return reap(ctx, cfg, netCfg, logger)
}

// reap removes what a crashed daemon with this configuration left behind: sandboxes of
// both backends (cgroups, containers), the network (links, netns, rules) and mode shared's
// net_prio cgroups.
func reap(ctx context.Context, cfg Config, netCfg netshape.Config, logger *slog.Logger) error {
	var errs []error
	nb, err := native.New(native.Config{BackendConfig: nativeBase(cfg, logger)})
	if err == nil {
		errs = append(errs, nb.Reap(ctx), nb.Close(ctx))
	} else {
		errs = append(errs, err)
	}
	// Containers only when an engine answers: a native-only host need not run Docker.
	if db, err := docker.New(ctx, docker.Config{BackendConfig: dockerBase(cfg, logger), Scope: cfg.Network.Prefix}); err == nil {
		errs = append(errs, db.Reap(ctx), db.Close(ctx))
	} else if !errors.Is(err, docker.ErrNoEngine) {
		logger.Warn("docker reap skipped", "err", err)
	}
	// Mode shared's net_prio cgroups, whatever mode the crashed daemon ran in.
	errs = append(errs, netshape.Reap(ctx, netCfg), shape.ReapNetPrioGroups(cfg.Network.Prefix, logger))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reaping leftovers of an earlier daemon: %w", err)
	}
	return nil
}
