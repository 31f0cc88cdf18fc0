package daemon

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faaslab/faaslab/netshape/shape"
	"github.com/faaslab/faaslab/runtime"
)

// Config is everything `faaslab daemon` can be told, from its YAML config file
// (--config) and flags (flags win). DefaultConfig holds every default in one place.
type Config struct {
	Listen     string         `yaml:"listen"`        // Lambda API + /metrics
	Backend    string         `yaml:"backend"`       // native | docker
	Profile    string         `yaml:"profile"`       // host profile, e.g. c3.large
	CPUModel   string         `yaml:"cpu_model"`     // paper | lambda
	StateDir   string         `yaml:"state_dir"`     // function definitions and code
	RuntimeBin string         `yaml:"runtime_bin"`   // static faaslab-runtime bootstrap
	KeepAlive  time.Duration  `yaml:"keep_alive"`    // idle sandbox lifetime
	Records    string         `yaml:"records"`       // JSON-lines invocation records ("" = state_dir/records.jsonl)
	Region     string         `yaml:"region"`        // AWS region the API reports
	CgroupRoot string         `yaml:"cgroup_parent"` // parent cgroup of every sandbox
	HostID     string         `yaml:"host_id"`       // names this host in records
	Network    NetworkConfig  `yaml:"network"`
	Docker     DockerConfig   `yaml:"docker"`
	Services   ServicesConfig `yaml:"services"` // object store, iperf3 pool (cmd/faaslab/services.go)
	Auth       AuthConfig     `yaml:"auth"`
}

// AuthConfig guards the management listener (see access.go).
type AuthConfig struct {
	TokenFile      string `yaml:"token_file"`      // file holding the bearer token; required when listen is not loopback
	ProtectMetrics bool   `yaml:"protect_metrics"` // /metrics needs the token too (when a token is set)
}

type NetworkConfig struct {
	Mode        string `yaml:"mode"`         // isolated (netns + veth per sandbox) | shared (host netns, net_prio)
	Prefix      string `yaml:"prefix"`       // every link name starts with it
	Subnet      string `yaml:"subnet"`       // sandboxes, gateway (.1) and remote (last)
	RuntimePort int    `yaml:"runtime_port"` // Runtime API port on the gateway address
	Policy      string `yaml:"policy"`       // none | fixed | equal | proportional | priority
	NIC         string `yaml:"nic"`          // emulated NIC capacity, e.g. 560mbit, 1gbit, unlimited ("" = profile's)
	FixedRate   string `yaml:"fixed_rate"`   // per-sandbox cap of policy fixed
	Strict      bool   `yaml:"strict"`       // proportional: ceil = rate
	NICQueue    string `yaml:"nic_queue"`    // policy none: fair (per-flow, default) | fifo (drop-tail)
	// AllowSandboxToSandbox unisolates the sandboxes' bridge ports (function-to-function
	// experiments); HostPorts are host TCP ports sandboxes may reach besides the Runtime API.
	AllowSandboxToSandbox bool  `yaml:"allow_sandbox_to_sandbox"`
	HostPorts             []int `yaml:"host_ports"`
	// Function URLs: port on loopback and on the gateway (0 = pick a free one) and an
	// optional gateway timeout (0 = only the function's own timeout, as on Lambda).
	URLPort    int           `yaml:"url_port"`
	URLTimeout time.Duration `yaml:"url_timeout"`
}

// policySpec is the shaping policy as the config writes it.
func (n NetworkConfig) policySpec() shape.PolicySpec {
	return shape.PolicySpec{Policy: n.Policy, NIC: n.NIC, FixedRate: n.FixedRate, Strict: n.Strict, NICQueue: n.NICQueue}
}

type DockerConfig struct {
	Image string `yaml:"image"`
}

func DefaultConfig() Config {
	return Config{
		Listen:     "127.0.0.1:3001",
		Backend:    "native",
		Profile:    "c3.large",
		CPUModel:   "paper",
		StateDir:   "/var/lib/faaslab",
		RuntimeBin: defaultRuntimeBin(),
		KeepAlive:  10 * time.Minute,
		Region:     "us-east-1",
		CgroupRoot: "/faaslab",
		HostID:     hostname(),
		Network: NetworkConfig{
			Mode:        networkModeIsolated,
			Prefix:      "faaslab",
			Subnet:      "10.201.0.0/16",
			RuntimePort: 9001,
			Policy:      "none",
			NICQueue:    "fair",
		},
		Docker:   DockerConfig{Image: "faaslab-runtime:latest"},
		Services: defaultServicesConfig(),
		Auth:     AuthConfig{ProtectMetrics: true},
	}
}

// defaultRuntimeBin is runtime.FindBinary's answer, or where `make install` puts the
// binary (the daemon's start then names the missing path).
func defaultRuntimeBin() string {
	if p, err := runtime.FindBinary(); err == nil {
		return p
	}
	return "/usr/local/bin/" + runtime.BinaryName
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "faaslab-host"
	}
	return h
}

// LoadConfig reads path over the defaults; unknown keys are an error so typos show.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	FillComputedDefaults(&cfg)
	return cfg, nil
}

// FillComputedDefaults gives the keys whose default depends on the host ("" in a config
// file, as in deploy/faaslab.yaml) their computed value.
func FillComputedDefaults(cfg *Config) {
	if cfg.RuntimeBin == "" {
		cfg.RuntimeBin = defaultRuntimeBin()
	}
	if cfg.HostID == "" {
		cfg.HostID = hostname()
	}
}
