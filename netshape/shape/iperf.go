package shape

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faaslab/faaslab/netshape/ns"
)

// FirstIperfPort is the first iperf3 server port; server i listens on
// FirstIperfPort+i (one server per concurrent client: iperf3 serves one test
// at a time, as the paper's setup did with 5200–5226).
const FirstIperfPort = 5200

// proc is a child process started inside a netns.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

// startIn starts a command inside the named netns ("" = our own): the fork happens on a
// thread switched into that netns, so the child lives there.
func startIn(ctx context.Context, nsName, bin string, args ...string) (*proc, error) {
	return startInWith(ctx, nsName, nil, bin, args...)
}

// startInWith is startIn with the child's stdin (nil = /dev/null).
func startInWith(ctx context.Context, nsName string, stdin *os.File, bin string, args ...string) (*proc, error) {
	p := &proc{done: make(chan error, 1)}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	if stdin != nil {
		p.cmd.Stdin = stdin
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	// Kill the child if we die; SIGTERM on ctx cancel lets iperf3 clean up.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = 2 * time.Second
	path := "" // "" = the caller's own netns
	if nsName != "" {
		path = ns.NamedPath(nsName)
	}
	if err := inNetNS(path, p.cmd.Start); err != nil {
		return nil, fmt.Errorf("start %s in netns %s: %w", bin, nsName, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p, nil
}

// stop terminates the process by PID (SIGTERM, then SIGKILL) and reaps it.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// iperfServers runs one iperf3 server per client in the remote netns.
type iperfServers struct{ procs []*proc }

func startIperfServers(ctx context.Context, bin, nsName string, bind netip.Addr, n int) (*iperfServers, error) {
	s := &iperfServers{}
	for i := range n {
		port := FirstIperfPort + i
		p, err := startIn(ctx, nsName, bin, "-s", "-B", bind.String(), "-p", strconv.Itoa(port))
		if err != nil {
			s.stop()
			return nil, err
		}
		s.procs = append(s.procs, p)
	}
	for i, p := range s.procs {
		if err := waitListening(ctx, p, FirstIperfPort+i); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *iperfServers) stop() {
	for _, p := range s.procs {
		p.stop()
	}
}

// waitListening polls the server's own view of its netns (/proc/PID/net/tcp)
// until the port is in LISTEN state. A probe connection would eat the test.
func waitListening(ctx context.Context, p *proc, port int) error {
	deadline := time.Now().Add(5 * time.Second)
	file := fmt.Sprintf("/proc/%d/net/tcp", p.cmd.Process.Pid)
	want := fmt.Sprintf(":%04X", port)
	for time.Now().Before(deadline) {
		if listening(file, want) {
			return nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("iperf3 server on port %d exited: %v: %s", port, err, strings.TrimSpace(p.stderr.String()+p.stdout.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("iperf3 server on port %d not listening after 5s", port)
}

func listening(file, portSuffix string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 3 && strings.HasSuffix(fs[1], portSuffix) && fs[3] == "0A" {
			return true
		}
	}
	return false
}

// iperfResult is the part of `iperf3 -J` output we use.
type iperfResult struct {
	End struct {
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_sent"`
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// barrierScript waits for one line on stdin, then becomes the command: every
// client blocks on the same pipe until all are started, so the transfers
// begin together rather than in the order the processes were spawned.
const barrierScript = `read _; exec "$@"`

// runIperfClients runs one client per sandbox netns at the same time and
// returns each one's receiver-side goodput in bit/s.
func runIperfClients(ctx context.Context, bin string, sandboxNS []string, server netip.Addr, durationSec, omitSec int, reverse bool) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(durationSec+omitSec+20)*time.Second)
	defer cancel()
	release, gate, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("barrier pipe: %w", err)
	}
	defer release.Close()
	procs := make([]*proc, len(sandboxNS))
	var errs []error
	for i, ns := range sandboxNS {
		args := []string{"-c", barrierScript, "sh", bin, "-c", server.String(), "-p", strconv.Itoa(FirstIperfPort + i),
			"-t", strconv.Itoa(durationSec), "-O", strconv.Itoa(omitSec), "-J"}
		if reverse {
			args = append(args, "-R")
		}
		p, err := startInWith(ctx, ns, release, "/bin/sh", args...)
		if err != nil {
			errs = append(errs, err)
			break
		}
		procs[i] = p
	}
	// Release everyone at once (a waiting client's line stays in the pipe).
	_, werr := gate.WriteString(strings.Repeat("go\n", len(sandboxNS)))
	gate.Close()
	if werr != nil {
		errs = append(errs, fmt.Errorf("release barrier: %w", werr))
	}
	out := make([]float64, len(sandboxNS))
	for i, p := range procs {
		if p == nil {
			continue
		}
		werr := <-p.done
		var r iperfResult
		if jerr := json.Unmarshal(p.stdout.Bytes(), &r); jerr != nil || r.Error != "" || werr != nil {
			errs = append(errs, fmt.Errorf("iperf3 client %d (%s): exit %v, error %q, json %v, stderr %q", i, sandboxNS[i], werr, r.Error, jerr, strings.TrimSpace(p.stderr.String())))
			continue
		}
		out[i] = r.End.SumReceived.BitsPerSecond
	}
	return out, errors.Join(errs...)
}
