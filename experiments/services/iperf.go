package services

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the iperf3 pool: the paper's published code ran 27 servers on 5200–5226,
// one per concurrent client.
const (
	DefaultIperfBasePort = 5200
	DefaultIperfMax      = 64
)

// IperfPool runs iperf3 servers in the remote netns, one per port. Each runs `iperf3 -s -1`
// (one test, then exit) and is respawned at once, so every test meets a fresh server and
// a stuck test never blocks the next.
type IperfPool struct {
	remote RemoteRunner
	bin    string
	base   int
	max    int
	log    *slog.Logger
	m      *Metrics

	mu      sync.Mutex
	servers []*process // servers[i] listens on base+i
}

// IperfPoolStatus is the host API's view of the pool.
type IperfPoolStatus struct {
	Host    string          `json:"host"`
	Ports   []int           `json:"ports"`
	Servers []ProcessStatus `json:"servers"`
}

// NewIperfPool makes an empty pool; servers start on the first Ensure.
func NewIperfPool(remote RemoteRunner, basePort, max int, log *slog.Logger, m *Metrics) *IperfPool {
	return &IperfPool{remote: remote, bin: "iperf3", base: basePort, max: max, log: log.With("service", "iperf3"), m: m}
}

// Ensure makes at least n servers run and returns the remote address and the first n
// ports. Servers already running are kept.
func (p *IperfPool) Ensure(n int) (netip.Addr, []int, error) {
	if n < 1 || n > p.max {
		return netip.Addr{}, nil, fmt.Errorf("count %d: want 1-%d iperf3 servers", n, p.max)
	}
	bin, err := exec.LookPath(p.bin)
	if err != nil {
		return netip.Addr{}, nil, fmt.Errorf("iperf3 server pool: %w (install iperf3)", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.servers); i < n; i++ {
		port := p.base + i
		ready := make(chan struct{}, 1)
		proc := newProcess("iperf3", func() *exec.Cmd {
			cmd := p.remote.RemoteCommand(context.Background(), bin, "-s", "-1", "--forceflush", "-p", strconv.Itoa(port))
			cmd.Stdout = listeningWriter{ready}
			return cmd
		}, true, p.log, p.m)
		if err := proc.start(); err != nil {
			proc.stop()
			return netip.Addr{}, nil, err
		}
		p.servers = append(p.servers, proc)
		// Not a probe connection: iperf3 -1 would take it for its one test.
		select {
		case <-ready:
		case <-time.After(storeReadyTimeout):
			return netip.Addr{}, nil, fmt.Errorf("iperf3 server on port %d did not start within %s", port, storeReadyTimeout)
		}
	}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = p.base + i
	}
	return p.remote.RemoteAddr(), ports, nil
}

// Status lists the running servers.
func (p *IperfPool) Status() IperfPoolStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := IperfPoolStatus{Host: p.remote.RemoteAddr().String(), Ports: []int{}, Servers: []ProcessStatus{}}
	for i, s := range p.servers {
		st.Ports = append(st.Ports, p.base+i)
		st.Servers = append(st.Servers, s.Status())
	}
	return st
}

// Close stops every server.
func (p *IperfPool) Close() {
	p.mu.Lock()
	servers := p.servers
	p.servers = nil
	p.mu.Unlock()
	for _, s := range servers {
		s.stop()
	}
}

// listeningWriter signals ready when iperf3 says it listens (once per respawn; a full
// channel means nobody waits).
type listeningWriter struct{ ready chan struct{} }

func (w listeningWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "listening") {
		select {
		case w.ready <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}
