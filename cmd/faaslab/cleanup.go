package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/internal/daemon"
)

func newCleanupCmd() *cobra.Command {
	cfg := daemon.DefaultConfig()
	var configPath, logLevel string
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove every faaslab kernel object of a daemon configuration (after a crash)",
		Long: `Remove the sandboxes (cgroups, containers), links, namespaces, qdiscs and iptables
rules that a daemon with this configuration made: the same --config (or $FAASLAB_CONFIG),
FAASLAB_* variables and flags as the daemon had. A daemon does the same at start; use this
when you will not start one again. It refuses while that daemon runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fileCfg, err := daemon.ResolveConfig(configPath, os.LookupEnv, cmd.Flags(), &cfg)
			if err != nil {
				return err
			}
			logger, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			netCfg, err := daemon.NetshapeConfig(fileCfg.Network)
			if err != nil {
				return err
			}
			return daemon.Reap(cmd.Context(), fileCfg, netCfg, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "the daemon's YAML config file (default $FAASLAB_CONFIG)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	daemon.BindFlags(f, &cfg)
	return cmd
}
