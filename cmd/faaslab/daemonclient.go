package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/faaslab/faaslab/client"
)

// daemonFlags are how a command reaches a running daemon: --endpoint (env
// FAASLAB_ENDPOINT) and, for a daemon listening beyond loopback, --token-file (env
// FAASLAB_TOKEN_FILE). fn, data, services, faasbench and experiment run share them.
type daemonFlags struct {
	endpoint  string
	tokenFile string
	opts      []client.Option // the token, once readToken has read it
}

// bind registers both flags on cmd, inherited by its subcommands.
func (d *daemonFlags) bind(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&d.endpoint, "endpoint", envOr("FAASLAB_ENDPOINT", client.DefaultEndpoint),
		"the daemon's API (env FAASLAB_ENDPOINT)")
	d.bindToken(cmd)
}

// daemonGroup is a command group whose subcommands talk to a daemon through d.
func daemonGroup(use, short string) (*cobra.Command, *daemonFlags) {
	cmd := &cobra.Command{Use: use, Short: short}
	d := &daemonFlags{}
	d.bind(cmd)
	return cmd, d
}

// bindToken registers --token-file alone (experiment run takes a list of endpoints). The
// file is read before the command runs, so a wrong path fails at once, not as a 401.
func (d *daemonFlags) bindToken(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&d.tokenFile, "token-file", os.Getenv("FAASLAB_TOKEN_FILE"),
		"file holding the daemon's API token (its auth.token_file), for a daemon listening beyond loopback (env FAASLAB_TOKEN_FILE)")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return d.readToken() }
}

func (d *daemonFlags) readToken() error {
	if d.tokenFile == "" {
		return nil
	}
	token, err := client.ReadTokenFile(d.tokenFile)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	d.opts = []client.Option{client.WithBearerToken(token)}
	return nil
}

func (d *daemonFlags) client() *client.Client { return client.New(d.endpoint, d.opts...) }

// callCmd is a command that makes one daemon call and prints its answer as JSON (nothing
// for a call that answers nothing, such as a delete).
func callCmd(use, short string, args cobra.PositionalArgs, call func(ctx context.Context, args []string) (any, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := call(cmd.Context(), args)
			if v == nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), v, err)
		},
	}
}

// printResult prints a daemon call's answer v as printJSON does, or returns the call's err.
func printResult(w io.Writer, v any, err error) error {
	if err != nil {
		return err
	}
	return printJSON(w, v)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
