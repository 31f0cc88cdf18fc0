package daemon

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

// EnvName is the environment variable of a flag.
func EnvName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ApplyEnv sets every field of cfg whose FAASLAB_* variable lookup finds. A bad value is an
// error naming the variable.
func ApplyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	fs := pflag.NewFlagSet("env", pflag.ContinueOnError)
	BindFlags(fs, cfg)
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		v, ok := lookup(EnvName(f.Name))
		if !ok || err != nil {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, serr)
		}
	})
	return err
}

// ResolveConfig is the configuration a daemon with these settings runs with: the
// defaults, then the config file (path, or $FAASLAB_CONFIG when path is empty), then the
// FAASLAB_* variables, then the flags the user set on f (bound to flagCfg; f may be nil).
// `faaslab daemon`, `cleanup` and `data load` resolve it the same way, so that cleanup
// reaps what that daemon made.
func ResolveConfig(path string, lookup func(string) (string, bool), f *pflag.FlagSet, flagCfg *Config) (Config, error) {
	if path == "" {
		path, _ = lookup(EnvName("config"))
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return cfg, err
	}
	if err := ApplyEnv(&cfg, lookup); err != nil {
		return cfg, err
	}
	if f != nil {
		OverrideChanged(f, &cfg, flagCfg)
	}
	return cfg, nil
}

// PrintConfig writes cfg as the YAML a --config file takes.
func PrintConfig(w io.Writer, cfg Config) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
