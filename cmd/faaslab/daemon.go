package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/internal/daemon"
)

func newDaemonCmd() *cobra.Command {
	var configPath, logLevel string
	var showConfig bool
	flagCfg := daemon.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the host: sandboxes, emulated NIC, Runtime API and the Lambda API",
		Long: `Run the faaslab host daemon. It reaps what a crashed daemon left, creates the bridge,
the emulated NIC (uplink) and the remote namespace, serves the Lambda API and /metrics on
--listen, and the Runtime API to sandboxes on the gateway address. SIGINT/SIGTERM stop it
cleanly: every sandbox, cgroup, namespace, link, qdisc and rule it made is removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := daemon.ResolveConfig(configPath, os.LookupEnv, cmd.Flags(), &flagCfg)
			if err != nil {
				return err
			}
			if showConfig {
				return daemon.PrintConfig(cmd.OutOrStdout(), cfg)
			}
			logger, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return daemon.Run(ctx, cfg, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML config file (see docs/configuration.md; default $FAASLAB_CONFIG); FAASLAB_* variables and flags override it")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&showConfig, "print-config", false, "print the effective configuration (defaults, --config file, FAASLAB_* environment, flags) as YAML and exit")
	daemon.BindFlags(f, &flagCfg)
	return cmd
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
