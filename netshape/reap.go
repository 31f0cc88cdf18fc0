package netshape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/faaslab/faaslab/netshape/ns"

	"github.com/vishvananda/netlink"
)

// Reap removes what a Host with cfg left behind after a crash: the iptables FORWARD
// rules tagged for cfg's bridge, every host-netns link cfg names (sandbox veths
// Name+<hex>, Name+"-*" such as the uplink, the bridge) and the remote netns. It is
// scoped to cfg: objects of another prefix or bridge are never touched. Errors are
// joined; Reap carries on past them.
func Reap(ctx context.Context, cfg Config) error {
	return reap(ctx, cfg, nil)
}

// reap is Reap, logging what it removes to logger (may be nil).
func reap(ctx context.Context, cfg Config, logger *slog.Logger) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if err := removeRules(ctx, cfg); err != nil {
		errs = append(errs, err)
	}
	links, err := netlink.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		errs = append(errs, fmt.Errorf("list links: %w", err))
	}
	bridge := 0
	for _, l := range links {
		if l.Attrs().Name == cfg.Bridge {
			bridge = l.Attrs().Index
		}
	}
	// Veths before the bridge so that the bridge goes last, as in Close.
	for _, l := range links {
		name := l.Attrs().Name
		if name == cfg.Bridge || !cfg.ownsLink(name, l.Attrs().MasterIndex, bridge) {
			continue
		}
		logger.Info("reaping link", "link", name)
		if err := delLinkByName(name); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete link %s: %w", name, err))
		}
	}
	if err := ns.DeleteNamed(cfg.RemoteNetNS); err != nil {
		errs = append(errs, err)
	}
	if err := delLinkByName(cfg.Bridge); err != nil && !isNotFound(err) {
		errs = append(errs, fmt.Errorf("delete bridge %s: %w", cfg.Bridge, err))
	}
	return errors.Join(errs...)
}
