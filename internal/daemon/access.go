package daemon

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/scheduler/api"
)

// accessFor is the management listener's guard: a bearer token when auth.token_file is
// set (required when the listener is not loopback-only), /metrics open unless
// auth.protect_metrics, and the sandbox subnet refused whatever it sends.
func accessFor(cfg Config, sandboxSubnet netip.Prefix) (api.Access, error) {
	a := api.Access{Deny: []netip.Prefix{sandboxSubnet}}
	if cfg.Auth.TokenFile == "" {
		if !listenIsLoopback(cfg.Listen) {
			return a, fmt.Errorf("listen %s is not a loopback address: set auth.token_file (--auth-token-file) to a file holding the API token, or listen on 127.0.0.1", cfg.Listen)
		}
		return a, nil
	}
	token, err := client.ReadTokenFile(cfg.Auth.TokenFile)
	if err != nil {
		return a, fmt.Errorf("auth.token_file: %w", err)
	}
	a.Token = token
	if !cfg.Auth.ProtectMetrics {
		a.Open = func(r *http.Request) bool { return r.URL.Path == "/metrics" }
	}
	return a, nil
}

// listenIsLoopback says whether a listen address accepts loopback connections only:
// "localhost" or a loopback IP. An empty host, 0.0.0.0 and :: listen everywhere.
func listenIsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
