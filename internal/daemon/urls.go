package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/faaslab/faaslab/scheduler/urls"
)

// recentURLInvocations is how many URL invocations the host API can still report.
const recentURLInvocations = 4096

// listenURLs binds the function URL port on loopback before the host network is built,
// so that a port picked at start (network.url_port 0) is known to the firewall, which
// admits sandboxes to it on the gateway. It writes the port back into cfg.
func (d *Daemon) listenURLs(cfg *Config) error {
	lo, err := net.Listen("tcp", hostPort(loopback, cfg.Network.URLPort))
	if err != nil {
		return fmt.Errorf("function URLs on loopback: %w (set network.url_port / --url-port to a free port)", err)
	}
	// A free port from the kernel may be the API's, which is bound last (it may have just
	// been released by whoever picked it): take another while holding this one.
	if cfg.Network.URLPort == 0 && sameLoopbackPort(lo.Addr(), cfg.Listen) {
		other, err := net.Listen("tcp", hostPort(loopback, 0))
		lo.Close()
		if err != nil {
			return fmt.Errorf("function URLs on loopback: %w", err)
		}
		lo = other
	}
	d.urlLo, d.urlPort = lo, lo.Addr().(*net.TCPAddr).Port
	cfg.Network.URLPort, d.cfg.Network.URLPort = d.urlPort, d.urlPort
	return nil
}

// startURLs serves function URLs on loopback and on the bridge's gateway address, with
// the same port on both. Sandboxes reach URLs only on the gateway; the Lambda management
// API is never bound there.
func (d *Daemon) startURLs() error {
	lo := d.urlLo
	gwAddr := hostPort(d.host.Gateway(), d.urlPort)
	gw, err := net.Listen("tcp", gwAddr)
	if err != nil {
		return fmt.Errorf("function URLs on %s: %w (set network.url_port / --url-port to a free port)", gwAddr, err)
	}
	base := func(ln net.Listener) string { return "http://" + ln.Addr().String() }
	d.urls, err = urls.Open(filepath.Join(d.cfg.StateDir, "function-urls.json"), base(lo), base(gw))
	if err != nil {
		gw.Close()
		return err
	}
	d.urlRecent = urls.NewRecent(recentURLInvocations)
	d.urlServer = urls.NewServer(urls.EndpointDeps{
		Store: d.urls, Service: d.sched, Recent: d.urlRecent, GatewayTimeout: d.cfg.Network.URLTimeout,
		Region: d.cfg.Region, Logger: d.log,
	})
	go serveHTTP(d.urlServer, urls.CountingListener(lo))
	go serveHTTP(d.urlServer, urls.CountingListener(gw))
	d.log.Info("function URLs", "host", base(lo), "sandboxes", base(gw), "gateway_timeout", d.cfg.Network.URLTimeout)
	return nil
}

var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// sameLoopbackPort reports whether addr's port is listen's (host:port) port.
func sameLoopbackPort(addr net.Addr, listen string) bool {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	tcp, ok := addr.(*net.TCPAddr)
	return ok && strconv.Itoa(tcp.Port) == port
}
