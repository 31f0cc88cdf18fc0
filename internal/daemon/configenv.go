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

// PrintConfig writes cfg as the YAML a --config file takes.
func PrintConfig(w io.Writer, cfg Config) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
