package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// ResolveConfig layers defaults < config file ($FAASLAB_CONFIG) < FAASLAB_* < set flags,
// the same for every command that acts for a daemon (cleanup must reap what it made).
func TestResolveConfigLayers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "faaslab.yaml")
	if err := os.WriteFile(file, []byte("state_dir: /from/file\nnetwork:\n  prefix: faaslabf\n  subnet: 10.9.0.0/16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FAASLAB_CONFIG": file, "FAASLAB_NET_PREFIX": "faaslabe"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	flagCfg := DefaultConfig()
	f := pflag.NewFlagSet("t", pflag.ContinueOnError)
	BindFlags(f, &flagCfg)
	if err := f.Parse([]string{"--subnet", "10.8.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := ResolveConfig("", lookup, f, &flagCfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/from/file" || cfg.Network.Prefix != "faaslabe" || cfg.Network.Subnet != "10.8.0.0/16" {
		t.Errorf("state dir %q (want the file's), prefix %q (want the environment's), subnet %q (want the flag's)",
			cfg.StateDir, cfg.Network.Prefix, cfg.Network.Subnet)
	}
	if cfg.Listen != DefaultConfig().Listen {
		t.Errorf("listen %q, want the default", cfg.Listen)
	}
	// No flag set: file and environment only.
	cfg, err = ResolveConfig("", lookup, nil, nil)
	if err != nil || cfg.Network.Prefix != "faaslabe" || cfg.StateDir != "/from/file" {
		t.Errorf("without flags: %+v, %v", cfg.Network, err)
	}
	env["FAASLAB_KEEP_ALIVE"] = "soon"
	if _, err := ResolveConfig("", lookup, nil, nil); err == nil {
		t.Error("a bad FAASLAB_KEEP_ALIVE was accepted")
	}
}
