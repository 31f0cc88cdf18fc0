package netshape

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/faaslab/faaslab/internal/probe"
)

// brNFCallIPTables says whether bridged IPv4 traffic passes through iptables.
const brNFCallIPTables = "/proc/sys/net/bridge/bridge-nf-call-iptables"

// ErrNoIPTables: the iptables binary is not installed.
var ErrNoIPTables = errors.New("iptables not found")

// forwardRules are the FORWARD rules that let traffic of cfg's bridge through even when
// Docker has set the FORWARD policy to DROP (br_netfilter sends bridged frames through
// iptables, with -i/-o matching the bridge).
func forwardRules(cfg Config) [][]string {
	tag := []string{"-m", "comment", "--comment", cfg.iptablesComment(), "-j", "ACCEPT"}
	return [][]string{
		append([]string{"-i", cfg.Bridge}, tag...),
		append([]string{"-o", cfg.Bridge}, tag...),
	}
}

// inputRules are the INPUT rules that keep sandboxes off the host's own services, in
// order: from the sandbox subnet on the bridge only cfg.HostPorts (TCP) and replies to
// connections the host opened are accepted; the remote netns, which plays the world
// outside and is no tenant, keeps its access; everything else is dropped. Equivalent:
//
//	iptables -I INPUT 1 -i BR -s SUBNET -p tcp --dport PORT -m comment --comment faaslab:BR -j ACCEPT
//	iptables -I INPUT 2 -i BR -s SUBNET -m conntrack --ctstate ESTABLISHED,RELATED ... -j ACCEPT
//	iptables -I INPUT 3 -i BR -s REMOTE/32 ... -j ACCEPT
//	iptables -I INPUT 4 -i BR -s SUBNET ... -j DROP
func inputRules(cfg Config) [][]string {
	from := []string{"-i", cfg.Bridge, "-s", cfg.Subnet.String()}
	tag := []string{"-m", "comment", "--comment", cfg.iptablesComment(), "-j"}
	rule := func(match []string, verdict string) []string {
		return append(append(append([]string{}, match...), tag...), verdict)
	}
	var out [][]string
	for _, p := range cfg.HostPorts {
		out = append(out, rule(append(from, "-p", "tcp", "--dport", strconv.Itoa(p)), "ACCEPT"))
	}
	out = append(out,
		rule(append(from, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED"), "ACCEPT"),
		rule([]string{"-i", cfg.Bridge, "-s", cfg.RemoteAddr().String() + "/32"}, "ACCEPT"),
		rule(from, "DROP"))
	return out
}

// addInputRules inserts inputRules at the top of INPUT. Without iptables it warns that
// host services are open to sandboxes and returns added=false, nil.
func addInputRules(ctx context.Context, cfg Config, log *slog.Logger) (added bool, err error) {
	bin, ok := lookIPTables(cfg, log, "every service on the host's addresses is reachable from sandboxes through the gateway")
	if !ok {
		return false, nil
	}
	for i, rule := range inputRules(cfg) {
		args := append([]string{"-I", "INPUT", strconv.Itoa(i + 1)}, rule...)
		if _, err := runIPTables(ctx, bin, args...); err != nil {
			return i > 0, fmt.Errorf("restrict sandbox access to the host on bridge %s: %w", cfg.Bridge, err)
		}
	}
	return true, nil
}

// lookIPTables finds cfg's iptables binary; without one it warns what that means
// (consequence) and returns false.
func lookIPTables(cfg Config, log *slog.Logger, consequence string) (bin string, ok bool) {
	bin, err := findIPTables(cfg.IPTables)
	if err != nil {
		log.Warn("iptables not installed: "+consequence, "bridge", cfg.Bridge)
		return "", false
	}
	return bin, true
}

// findIPTables looks the iptables binary up in PATH: name is Config.IPTables, or "" for
// doctor's checks, which have no configuration. ErrNoIPTables (wrapped) if it is missing.
func findIPTables(name string) (string, error) {
	bin, err := exec.LookPath(cmp.Or(name, defaultIPTables))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoIPTables, err)
	}
	return bin, nil
}

// runIPTables runs `iptables -w ARGS...` and returns its stdout.
func runIPTables(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-w"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// addForwardRules inserts the FORWARD ACCEPT rules for cfg's bridge (`iptables -w -I
// FORWARD -i BR -m comment --comment faaslab:BR -j ACCEPT`, same with -o). Without the
// iptables binary, or when iptables fails on a host where bridged traffic bypasses
// iptables anyway, it logs a warning and returns added=false, nil.
func addForwardRules(ctx context.Context, cfg Config, log *slog.Logger) (added bool, err error) {
	bin, ok := lookIPTables(cfg, log, "not adding FORWARD ACCEPT rules; bridged traffic is dropped if br_netfilter is loaded and the FORWARD policy is DROP")
	if !ok {
		return false, nil
	}
	for i, rule := range forwardRules(cfg) {
		if _, err := runIPTables(ctx, bin, append([]string{"-I", "FORWARD"}, rule...)...); err != nil {
			if i == 0 && !bridgeNetfilterOn() {
				log.Warn("iptables failed and bridge netfilter is off: continuing without FORWARD rules", "bridge", cfg.Bridge, "err", err)
				return false, nil
			}
			return i > 0, fmt.Errorf("allow forwarding on bridge %s: %w", cfg.Bridge, err)
		}
	}
	return true, nil
}

// bridgeNetfilterOn reports whether bridged IPv4 traffic is passed to iptables.
func bridgeNetfilterOn() bool {
	b, err := os.ReadFile(brNFCallIPTables)
	return err == nil && strings.TrimSpace(string(b)) != "0"
}

// ruleChains are the chains netshape puts rules in.
var ruleChains = []string{"FORWARD", "INPUT"}

// removeRules deletes every FORWARD and INPUT rule tagged with cfg's comment (also
// duplicates and rules a crashed daemon left). Without iptables it does nothing.
func removeRules(ctx context.Context, cfg Config) error {
	bin, err := findIPTables(cfg.IPTables)
	if err != nil {
		return nil
	}
	var errs []error
	for _, chain := range ruleChains {
		out, err := runIPTables(ctx, bin, "-S", chain)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s rules: %w", chain, err))
			continue
		}
		for _, spec := range taggedRules(out, cfg.iptablesComment()) {
			if _, err := runIPTables(ctx, bin, append([]string{"-D", chain}, spec...)...); err != nil {
				errs = append(errs, fmt.Errorf("remove %s rule: %w", chain, err))
			}
		}
	}
	return errors.Join(errs...)
}

// HostRules lists, for `faaslab doctor`, the iptables rules of every faaslab bridge in
// force on this host (INPUT: what sandboxes may reach on the host; FORWARD: bridged
// traffic let through), as `iptables -S` lines. ErrNoIPTables (wrapped) if the binary is
// missing.
func HostRules(ctx context.Context) ([]string, error) {
	bin, err := findIPTables("")
	if err != nil {
		return nil, fmt.Errorf("%w: sandboxes reach every host service through the gateway", err)
	}
	var lines []string
	for _, chain := range ruleChains {
		out, err := runIPTables(ctx, bin, "-S", chain)
		if err != nil {
			return lines, fmt.Errorf("read %s chain (need root): %w", chain, err)
		}
		for line := range strings.Lines(out) {
			if strings.Contains(line, `"faaslab:`) || strings.Contains(line, " faaslab:") {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
	}
	return lines, nil
}

// taggedRules picks, from `iptables -S CHAIN` output, the rules whose comment is tag and
// returns each rule's spec without the leading "-A CHAIN".
func taggedRules(listing, tag string) [][]string {
	var out [][]string
	for line := range strings.Lines(listing) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		// iptables -S quotes comments; exec passes arguments unquoted.
		for i := range f {
			f[i] = strings.Trim(f[i], `"`)
		}
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "--comment" && f[i+1] == tag {
				out = append(out, f[2:])
				break
			}
		}
	}
	return out
}

// CheckIPTables describes, for `faaslab doctor`, the iptables setup that matters to the
// bridge: the iptables version, the FORWARD policy and whether bridged traffic goes
// through iptables. ErrNoIPTables (wrapped) if the binary is missing.
func CheckIPTables() (string, error) {
	bin, err := findIPTables("")
	if err != nil {
		return "", fmt.Errorf("%w: install iptables (apt-get install iptables) if Docker or br_netfilter filter forwarded traffic", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run iptables --version: %w", err)
	}
	desc := strings.TrimSpace(string(out))
	rules, err := runIPTables(ctx, bin, "-S", "FORWARD")
	if err != nil {
		return desc, fmt.Errorf("read FORWARD chain (need root): %w", err)
	}
	policy := "unknown"
	for line := range strings.Lines(rules) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "-P" {
			policy = f[2]
		}
	}
	desc += "; FORWARD policy " + policy
	if bridgeNetfilterOn() {
		desc += "; bridge-nf-call-iptables on (the daemon adds FORWARD ACCEPT rules for its bridge)"
	} else {
		desc += "; bridge-nf-call-iptables off"
	}
	return desc, nil
}

// ProbeHostRules lists the iptables rules in force that faaslab daemons made (tagged
// faaslab:<bridge>), for `faaslab doctor`.
func ProbeHostRules(ctx context.Context) probe.Section {
	s := probe.Section{Title: "sandbox firewall (iptables rules tagged faaslab:<bridge>)"}
	rules, err := HostRules(ctx)
	s.Notes = rules
	switch {
	case err != nil:
		s.Checks = append(s.Checks, probe.Check{Name: "rules", Detail: err.Error()})
	case len(rules) == 0:
		s.Notes = []string{"none (no daemon running)"}
	}
	return s
}
