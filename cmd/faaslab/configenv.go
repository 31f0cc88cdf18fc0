package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// envPrefix names the environment variable of each daemon flag: --net-prefix is
// FAASLAB_NET_PREFIX. The environment overrides the config file; flags override both.
const envPrefix = "FAASLAB_"

// envName is the environment variable of a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every field of cfg whose FAASLAB_* variable lookup finds. A bad value is an
// error naming the variable.
func applyEnv(cfg *daemonConfig, lookup func(string) (string, bool)) error {
	fs := pflag.NewFlagSet("env", pflag.ContinueOnError)
	addDaemonFlags(fs, cfg)
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		v, ok := lookup(envName(f.Name))
		if !ok || err != nil {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
		}
	})
	return err
}

// printConfig writes cfg as the YAML a --config file takes.
func printConfig(w io.Writer, cfg daemonConfig) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
