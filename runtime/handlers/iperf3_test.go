package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// freeLoopbackPort returns a TCP port on 127.0.0.1 nobody listens on right now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func needIperf3(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(iperf3Binary); err != nil {
		t.Skipf("iperf3 not installed (%v): apt-get install iperf3", err)
	}
}

// startIperf3Server starts a one-off (-1) iperf3 server on 127.0.0.1, waits until it
// listens (--forceflush: its stdout is a pipe, not a terminal) and kills it by PID when
// the test ends.
func startIperf3Server(t *testing.T) int {
	t.Helper()
	needIperf3(t)
	port := freeLoopbackPort(t)
	cmd := exec.Command(iperf3Binary, "-s", "-1", "--forceflush", "-B", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Dir = t.TempDir()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting iperf3 server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), "listening") {
				found = true
				listening <- true
			}
		}
		if !found {
			listening <- false
		}
	}()
	select {
	case ok := <-listening:
		if !ok {
			t.Fatal("iperf3 server exited before listening")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("iperf3 server did not say it listens within 10 s")
	}
	return port
}

func TestIperf3Measures(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			port := startIperf3Server(t)
			payload := fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "seconds": 1, "reverse": %v}`, port, reverse)
			out, err := call(t, "iperf3", context.Background(), payload)
			if err != nil {
				t.Fatalf("iperf3(%s): %v", payload, err)
			}
			t.Logf("iperf3(%s) = %s", payload, out)
			r := decodeTo[Iperf3Response](t, out)
			if r.BitsPerSecond <= 0 || r.SentBitsPerSecond <= 0 || r.Bytes <= 0 || r.Seconds <= 0 {
				t.Fatalf("iperf3 = %s: want positive rates, bytes and seconds", out)
			}
			if r.Reverse != reverse || r.Host != "127.0.0.1" || r.Port != port || r.Retransmits < 0 {
				t.Fatalf("iperf3 = %s: want reverse %v host 127.0.0.1 port %d", out, reverse, port)
			}
		})
	}
}

// TestFindToolWithoutPATH: a sandbox's environment may have no PATH; /usr/bin is tried,
// and a program found nowhere is an error naming where it was looked for.
func TestFindToolWithoutPATH(t *testing.T) {
	needIperf3(t)
	if _, err := exec.LookPath("/usr/bin/iperf3"); err != nil {
		t.Skipf("iperf3 is not at /usr/bin/iperf3 here (%v)", err)
	}
	t.Setenv("PATH", "")
	p, err := findTool(iperf3Binary)
	if err != nil || p != "/usr/bin/iperf3" {
		t.Fatalf("findTool(iperf3) with no PATH = %q, %v; want /usr/bin/iperf3", p, err)
	}
	if _, err := findTool("faaslab-no-such-tool"); err == nil || !strings.Contains(err.Error(), "/usr/local/bin") {
		t.Errorf("findTool of a missing program: %v, want an error naming the directories tried", err)
	}
}

func TestIperf3NoServer(t *testing.T) {
	needIperf3(t)
	payload := fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "seconds": 1}`, freeLoopbackPort(t))
	_, err := call(t, "iperf3", context.Background(), payload)
	t.Logf("iperf3(%s) = %v", payload, err)
	wantIperfError(t, err, "refused")
}

func TestIperf3Interrupted(t *testing.T) {
	port := startIperf3Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	payload := fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "seconds": 60}`, port)
	if _, err := call(t, "iperf3", ctx, payload); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("iperf3 past the deadline = %v, want ErrInterrupted", err)
	}
}

func wantIperfError(t *testing.T, err error, text string) {
	t.Helper()
	var typed interface{ ErrorType() string }
	if !errors.Is(err, ErrIperf) || !errors.As(err, &typed) || typed.ErrorType() != "IperfError" ||
		!strings.Contains(err.Error(), text) {
		t.Fatalf("err = %v, want ErrIperf with errorType IperfError mentioning %q", err, text)
	}
}

func TestIperf3InvalidPayload(t *testing.T) {
	for _, tc := range []struct{ payload, field string }{
		{``, "host"},
		{`{}`, "host"},
		{`{"port": 5201}`, "host"},
		{`{"host": "-R"}`, "host"},
		{`{"host": "a b"}`, "host"},
		{`{"host": "h", "seconds": 0}`, "seconds"},
		{`{"host": "h", "seconds": 901}`, "seconds"},
		{`{"host": "h", "port": 0}`, "port"},
		{`{"host": "h", "port": 70000}`, "port"},
		{`{"host": "h", "omit": -1}`, "omit"},
		{`{"host": "h", "parallel": 0}`, "parallel"},
		{`{"host": "h", "parallel": 129}`, "parallel"},
		{`{"host": "h", "bogus": 1}`, "bogus"},
		{`{"host": "h", "seconds": "ten"}`, "seconds"},
	} {
		_, err := call(t, "iperf3", context.Background(), tc.payload)
		wantInvalid(t, err)
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("iperf3(%s) = %v, want the error to name %q", tc.payload, err, tc.field)
		}
	}
}

func TestIperf3Args(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    []string
	}{
		{`{"host": "10.201.255.254"}`,
			[]string{"-c", "10.201.255.254", "-p", "5201", "-t", "10", "-J", "-i", "0", "-Z"}},
		{`{"host": "h", "port": 5226, "seconds": 3, "reverse": true, "zerocopy": false, "omit": 2, "parallel": 4}`,
			[]string{"-c", "h", "-p", "5226", "-t", "3", "-J", "-i", "0", "-R", "-O", "2", "-P", "4"}},
	} {
		req, err := parseIperf3Request([]byte(tc.payload))
		if err != nil {
			t.Fatalf("parse %s: %v", tc.payload, err)
		}
		if got := iperf3Args(req); !slices.Equal(got, tc.want) {
			t.Errorf("args(%s) = %q, want %q", tc.payload, got, tc.want)
		}
	}
}

func TestIperf3Output(t *testing.T) {
	ok := `{"end": {"sum_sent": {"bits_per_second": 2e9, "retransmits": 7},
		"sum_received": {"bits_per_second": 1.5e9, "bytes": 1875000000, "seconds": 10.001}}}`
	r, err := parseIperf3Output([]byte(ok), nil)
	if err != nil || r.BitsPerSecond != 1.5e9 || r.SentBitsPerSecond != 2e9 || r.Bytes != 1875000000 ||
		r.Seconds != 10.001 || r.Retransmits != 7 {
		t.Fatalf("parse = %+v, %v", r, err)
	}
	// iperf3 3.12 exits 0 with -J even when the test failed: the error field decides.
	busy := `{"start": {}, "intervals": [], "end": {}, "error": "the server is busy running a test. try again later"}`
	_, err = parseIperf3Output([]byte(busy), nil)
	wantIperfError(t, err, "server is busy")
	_, err = parseIperf3Output(nil, errors.New("exit status 1: iperf3: parameter error"))
	wantIperfError(t, err, "parameter error")
	_, err = parseIperf3Output([]byte("garbage"), nil)
	wantIperfError(t, err, "garbage")
}
