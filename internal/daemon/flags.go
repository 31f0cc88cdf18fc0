package daemon

import (
	"github.com/spf13/pflag"
)

// BindFlags binds the config's fields to flags; only flags the user set override the file.
func BindFlags(f *pflag.FlagSet, c *Config) {
	f.StringVar(&c.Listen, "listen", c.Listen, "address of the Lambda API and /metrics")
	f.StringVar(&c.Backend, "backend", c.Backend, "sandbox backend: native or docker")
	f.StringVar(&c.Profile, "profile", c.Profile, "host profile (c3.large, c5.xlarge, m5.2xlarge)")
	f.StringVar(&c.CPUModel, "cpu-model", c.CPUModel, "CPU quota model: paper (vCPUs × memory / max memory) or lambda (memory / 1769 MB)")
	f.StringVar(&c.StateDir, "state-dir", c.StateDir, "where function definitions and code are kept")
	f.StringVar(&c.RuntimeBin, "runtime-bin", c.RuntimeBin, "the static faaslab-runtime bootstrap")
	f.DurationVar(&c.KeepAlive, "keep-alive", c.KeepAlive, "how long an idle sandbox is kept warm")
	f.StringVar(&c.Records, "records", c.Records, "JSON-lines invocation records file (default STATE_DIR/records.jsonl)")
	f.StringVar(&c.Region, "region", c.Region, "AWS region the API reports")
	f.StringVar(&c.CgroupRoot, "cgroup-parent", c.CgroupRoot, "parent cgroup of every sandbox (capped at the profile)")
	f.StringVar(&c.HostID, "host-id", c.HostID, "host id written into records")
	f.StringVar(&c.Network.Mode, "network-mode", c.Network.Mode, "isolated (a netns and veth per sandbox) or shared (host netns; needs --policy netprio and cgroup v1 net_prio)")
	f.StringVar(&c.Network.Prefix, "net-prefix", c.Network.Prefix, "prefix of every link and namespace name (starts with faaslab)")
	f.StringVar(&c.Network.Subnet, "subnet", c.Network.Subnet, "sandbox subnet; .1 is the gateway, the last address the remote side")
	f.IntVar(&c.Network.RuntimePort, "runtime-port", c.Network.RuntimePort, "Runtime API port on the gateway address")
	f.StringVar(&c.Network.Policy, "policy", c.Network.Policy, "shaping policy: none, fixed, equal, proportional, priority, netprio (network mode shared)")
	f.StringVar(&c.Network.NIC, "nic", c.Network.NIC, "emulated NIC capacity, e.g. 560mbit, 1gbit, unlimited (default: the profile's)")
	f.StringVar(&c.Network.FixedRate, "fixed-rate", c.Network.FixedRate, "per-sandbox rate of policy fixed, e.g. 100mbit")
	f.StringVar(&c.Network.NICQueue, "nic-queue", c.Network.NICQueue, "how flows share the NIC under policy none: fair (per flow, as a real host) or fifo (drop-tail)")
	f.BoolVar(&c.Network.Strict, "strict", c.Network.Strict, "cap each sandbox at its rate, ceil = rate (not work-conserving; any policy: under priority that is its guarantee)")
	f.IntVar(&c.Network.URLPort, "url-port", c.Network.URLPort, "function URL port on 127.0.0.1 and on the gateway address (0 = a free one)")
	f.DurationVar(&c.Network.URLTimeout, "url-timeout", c.Network.URLTimeout, "function URL gateway timeout: answer 504 after this long while the function runs on (0 = none)")
	f.DurationVar(&c.Services.WAN.RTT, "wan-rtt", c.Services.WAN.RTT, "WAN model: round-trip time added on the path to the embedded store, e.g. 40ms (0 = off)")
	f.StringVar(&c.Services.WAN.RatePerConnection, "wan-rate", c.Services.WAN.RatePerConnection, "WAN model: rate of each connection to the embedded store, e.g. 100mbit (\"\" = no cap)")
	f.StringVar(&c.Docker.Image, "docker-image", c.Docker.Image, "default image of the docker backend")
	f.StringVar(&c.Auth.TokenFile, "auth-token-file", c.Auth.TokenFile, "file holding the bearer token every API request must carry (required when --listen is not loopback)")
	f.BoolVar(&c.Auth.ProtectMetrics, "protect-metrics", c.Auth.ProtectMetrics, "with a token: /metrics needs it too (false leaves /metrics open)")
}

// OverrideChanged copies every flag the user set from flagCfg into cfg.
func OverrideChanged(f *pflag.FlagSet, cfg, flagCfg *Config) {
	fresh := pflag.NewFlagSet("", pflag.ContinueOnError)
	BindFlags(fresh, cfg)
	f.Visit(func(fl *pflag.Flag) {
		if target := fresh.Lookup(fl.Name); target != nil {
			target.Value.Set(fl.Value.String())
		}
	})
}
