package services

import (
	"context"
	"errors"
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
	// readyTimeout bounds each server's readiness wait; 0 means storeReadyTimeout.
	readyTimeout time.Duration

	// ensure serializes Ensure, which waits for readiness holding it but not mu, so that
	// Status answers meanwhile.
	ensure  sync.Mutex
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
// ports. Servers already running are kept; a server that does not come up in time is
// stopped and dropped, so the next Ensure starts it afresh.
func (p *IperfPool) Ensure(n int) (netip.Addr, []int, error) {
	if n < 1 || n > p.max {
		return netip.Addr{}, nil, fmt.Errorf("count %d: want 1-%d iperf3 servers", n, p.max)
	}
	bin, err := exec.LookPath(p.bin)
	if err != nil {
		return netip.Addr{}, nil, fmt.Errorf("iperf3 server pool: %w (install iperf3)", err)
	}
	timeout := p.readyTimeout
	if timeout <= 0 {
		timeout = storeReadyTimeout
	}
	p.ensure.Lock()
	defer p.ensure.Unlock()
	p.mu.Lock()
	have := len(p.servers)
	p.mu.Unlock()
	for i := have; i < n; i++ {
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
		// Listed while it comes up (Status shows it, Close stops it).
		if !p.add(i, proc) {
			proc.stop()
			return netip.Addr{}, nil, errIperfPoolClosed
		}
		// Not a probe connection: iperf3 -1 would take it for its one test.
		select {
		case <-ready:
		case <-time.After(timeout):
			// Not kept: the next Ensure would hand out its port as ready.
			p.drop(i, proc)
			proc.stop()
			return netip.Addr{}, nil, fmt.Errorf("iperf3 server on port %d did not start within %s", port, timeout)
		}
	}
	p.mu.Lock()
	closed := len(p.servers) < n
	p.mu.Unlock()
	if closed {
		return netip.Addr{}, nil, errIperfPoolClosed
	}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = p.base + i
	}
	return p.remote.RemoteAddr(), ports, nil
}

// errIperfPoolClosed: Close ran while Ensure was starting servers.
var errIperfPoolClosed = errors.New("iperf3 server pool closed")

// add lists proc as servers[i], unless Close emptied the list meanwhile.
func (p *IperfPool) add(i int, proc *process) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.servers) != i {
		return false
	}
	p.servers = append(p.servers, proc)
	return true
}

// drop unlists proc, the last server, unless Close already took it.
func (p *IperfPool) drop(i int, proc *process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.servers) == i+1 && p.servers[i] == proc {
		p.servers[i] = nil
		p.servers = p.servers[:i]
	}
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
