package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/faaslab/faaslab/internal/daemon"
)

const deployConfig = "../../deploy/faaslab.yaml"

// yamlKeys lists the dotted key paths of a YAML mapping.
func yamlKeys(t *testing.T, data []byte) []string {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(*yaml.Node, string)
	walk = func(m *yaml.Node, prefix string) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := prefix+m.Content[i].Value, m.Content[i+1]
			if v.Kind == yaml.MappingNode {
				walk(v, k+".")
				continue
			}
			out = append(out, k)
		}
	}
	walk(n.Content[0], "")
	slices.Sort(out)
	return out
}

// TestDeployConfigIsTheDefaults: deploy/faaslab.yaml names every key, each with the value
// of daemon.DefaultConfig, so the documented file cannot drift from the code.
func TestDeployConfigIsTheDefaults(t *testing.T) {
	data, err := os.ReadFile(deployConfig)
	if err != nil {
		if os.Getenv("FAASLAB_VM") == "1" {
			t.Skip("the VM carries test binaries, not deploy/")
		}
		t.Fatal(err)
	}
	def, err := yaml.Marshal(daemon.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := yamlKeys(t, data), yamlKeys(t, def); !slices.Equal(got, want) {
		t.Errorf("%s keys:\n %v\nwant (daemon.Config's):\n %v", deployConfig, got, want)
	}
	var cfg daemon.Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	daemon.FillComputedDefaults(&cfg)
	got, _ := yaml.Marshal(cfg) // YAML: an empty list and a nil one are the same default
	if string(got) != string(def) {
		t.Errorf("%s:\n%s\nwant daemon.DefaultConfig():\n%s", deployConfig, got, def)
	}
}

// printedConfig runs `faaslab daemon --print-config args...` and decodes what it prints.
func printedConfig(t *testing.T, args ...string) (daemon.Config, error) {
	t.Helper()
	cmd := newDaemonCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--print-config"}, args...))
	if err := cmd.Execute(); err != nil {
		return daemon.Config{}, err
	}
	var cfg daemon.Config
	if err := yaml.Unmarshal(out.Bytes(), &cfg); err != nil {
		t.Fatalf("--print-config output does not parse: %v\n%s", err, out.String())
	}
	return cfg, nil
}

// TestConfigPrecedence: defaults < file < FAASLAB_* environment < flags.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "faaslab.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:3161\nregion: eu-west-1\nnetwork:\n  policy: equal\n"), 0o644)
	t.Setenv("FAASLAB_REGION", "eu-central-1")
	t.Setenv("FAASLAB_POLICY", "fixed")
	t.Setenv("FAASLAB_NET_PREFIX", "faaslabo")
	cfg, err := printedConfig(t, "--config", file, "--policy", "proportional")
	if err != nil {
		t.Fatal(err)
	}
	want := daemon.DefaultConfig()
	want.Listen, want.Region, want.Network.Policy, want.Network.Prefix = "127.0.0.1:3161", "eu-central-1", "proportional", "faaslabo"
	got, _ := yaml.Marshal(cfg)
	exp, _ := yaml.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("effective config:\n%s\nwant:\n%s", got, exp)
	}

	t.Setenv("FAASLAB_CONFIG", file)
	if cfg, err := printedConfig(t); err != nil || cfg.Listen != "127.0.0.1:3161" {
		t.Errorf("FAASLAB_CONFIG: listen %q, err %v; want the file's", cfg.Listen, err)
	}
	t.Setenv("FAASLAB_KEEP_ALIVE", "ten minutes")
	if _, err := printedConfig(t); err == nil || !strings.Contains(err.Error(), "FAASLAB_KEEP_ALIVE") {
		t.Errorf("bad FAASLAB_KEEP_ALIVE: %v, want an error naming it", err)
	}
}

// TestCommandsResolveTheDaemonsConfig: cleanup and data load read $FAASLAB_CONFIG and the
// FAASLAB_* variables as the daemon does (cleanup once read neither, and would reap the
// default names instead of the daemon's). A config file that does not parse stops each
// command before it touches anything.
func TestCommandsResolveTheDaemonsConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("no_such_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAASLAB_CONFIG", bad)
	for _, args := range [][]string{{"cleanup"}, {"data", "load", t.TempDir(), "bucket"}, {"daemon", "--print-config"}} {
		root := newRootCmd()
		root.SetArgs(args)
		root.SetOut(&bytes.Buffer{})
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "no_such_key") {
			t.Errorf("faaslab %v with FAASLAB_CONFIG=%s: %v, want the file's error", args, bad, err)
		}
	}
}
