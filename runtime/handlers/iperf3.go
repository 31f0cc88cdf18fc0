package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Bounds of the iperf3 payload. maxIperfParallel is iperf3's own stream limit.
const (
	defaultIperfPort    = 5201
	defaultIperfSeconds = 10
	maxIperfSeconds     = 900
	maxIperfOmitSeconds = 60
	maxIperfParallel    = 128
	// iperfWaitDelay bounds how long Wait waits for the child's pipes after a kill.
	iperfWaitDelay = 2 * time.Second
)

// iperf3Binary is the client, found by findTool.
const iperf3Binary = "iperf3"

// ErrIperf: iperf3 ran but reported an error (server busy, connection refused, ...) or
// could not be started.
var ErrIperf = errors.New("iperf3 failed")

const iperf3Want = `{"host": "10.201.255.254", "port": 5201, "seconds": 10, "reverse": false, "zerocopy": true, "omit": 0, "parallel": 1}`

// Iperf3Request is the iperf3 handler's payload; only Host is required.
type Iperf3Request struct {
	Host    string `json:"host"`
	Port    int    `json:"port,omitempty"`    // default 5201
	Seconds int    `json:"seconds,omitempty"` // -t, default 10, 1 … 900
	// Reverse measures download (-R: the server sends).
	Reverse bool `json:"reverse,omitempty"`
	// Zerocopy (-Z, sendfile) defaults to true as in the paper's published client.
	Zerocopy *bool `json:"zerocopy,omitempty"`
	Omit     int   `json:"omit,omitempty"`     // -O: seconds of slow start left out, 0 … 60
	Parallel int   `json:"parallel,omitempty"` // -P: streams, default 1, 1 … 128
}

// Iperf3Response is the iperf3 handler's answer. BitsPerSecond is the paper's result
// (end.sum_received.bits_per_second); Seconds is the receiver's measured duration.
type Iperf3Response struct {
	BitsPerSecond     float64 `json:"bits_per_second"`
	SentBitsPerSecond float64 `json:"sent_bits_per_second"`
	Bytes             int64   `json:"bytes"`
	Seconds           float64 `json:"seconds"`
	Reverse           bool    `json:"reverse"`
	Retransmits       int64   `json:"retransmits"`
	Host              string  `json:"host"`
	Port              int     `json:"port"`
}

// Iperf3 runs the iperf3 client against {"host", "port"} for {"seconds"} and answers the
// received and sent rates. iperf3's own errors (server busy, refused) have errorType
// "IperfError"; an ended context kills the client and gives ErrInterrupted.
func Iperf3(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := parseIperf3Request(payload)
	if err != nil {
		return nil, invalidPayload("iperf3", iperf3Want, err)
	}
	out, runErr := runIperf3(ctx, iperf3Args(req))
	if ctx.Err() != nil {
		return nil, interrupted("iperf3", ctx.Err())
	}
	resp, err := parseIperf3Output(out, runErr)
	if err != nil {
		return nil, err
	}
	resp.Reverse, resp.Host, resp.Port = req.Reverse, req.Host, req.Port
	return json.Marshal(resp)
}

// parseIperf3Request decodes and validates the payload and fills in defaults; errors
// name the offending field.
func parseIperf3Request(payload []byte) (Iperf3Request, error) {
	var req Iperf3Request
	if err := decode(payload, &req); err != nil {
		return req, err
	}
	if req.Port == 0 && !hasField(payload, "port") {
		req.Port = defaultIperfPort
	}
	if req.Seconds == 0 && !hasField(payload, "seconds") {
		req.Seconds = defaultIperfSeconds
	}
	if req.Parallel == 0 && !hasField(payload, "parallel") {
		req.Parallel = 1
	}
	if req.Zerocopy == nil {
		zc := true
		req.Zerocopy = &zc
	}
	return req, validateIperf3Request(req)
}

func validateIperf3Request(req Iperf3Request) error {
	switch {
	case req.Host == "":
		return errors.New("host is required")
	case strings.HasPrefix(req.Host, "-") || strings.ContainsFunc(req.Host, isSpaceOrControl):
		// A leading dash would be read by iperf3 as an option.
		return fmt.Errorf("host %q is not a host name or address", req.Host)
	case req.Port < 1 || req.Port > 65535:
		return fmt.Errorf("port %d is outside 1 … 65535", req.Port)
	case req.Seconds < 1 || req.Seconds > maxIperfSeconds:
		return fmt.Errorf("seconds %d is outside 1 … %d", req.Seconds, maxIperfSeconds)
	case req.Omit < 0 || req.Omit > maxIperfOmitSeconds:
		return fmt.Errorf("omit %d is outside 0 … %d", req.Omit, maxIperfOmitSeconds)
	case req.Parallel < 1 || req.Parallel > maxIperfParallel:
		return fmt.Errorf("parallel %d is outside 1 … %d", req.Parallel, maxIperfParallel)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// hasField reports whether the JSON object payload sets key, so an explicit 0 is
// rejected instead of silently becoming the default.
func hasField(payload []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

// iperf3Args builds the paper's client command line. "-i 0" turns off the per-second
// interval reports: they are not used and at 900 s × 128 streams would be tens of MB of
// JSON inside a 128 MB sandbox; the end sums are the same.
func iperf3Args(req Iperf3Request) []string {
	args := []string{"-c", req.Host, "-p", strconv.Itoa(req.Port), "-t", strconv.Itoa(req.Seconds), "-J", "-i", "0"}
	if req.Reverse {
		args = append(args, "-R")
	}
	if *req.Zerocopy {
		args = append(args, "-Z")
	}
	if req.Omit > 0 {
		args = append(args, "-O", strconv.Itoa(req.Omit))
	}
	if req.Parallel > 1 {
		args = append(args, "-P", strconv.Itoa(req.Parallel))
	}
	return args
}

// runIperf3 runs the client in the temp dir and returns its stdout (the JSON report) with
// stderr appended when it says anything. The sandbox's root is read-only, so HOME and
// TMPDIR (iperf3 mkstemp's its stream buffers there) point at the writable temp dir.
func runIperf3(ctx context.Context, args []string) ([]byte, error) {
	bin, err := findTool(iperf3Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: install iperf3 in the sandbox image", err)
	}
	tmp := os.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "HOME="+tmp, "TMPDIR="+tmp)
	cmd.WaitDelay = iperfWaitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if s := bytes.TrimSpace(stderr.Bytes()); len(s) > 0 && err != nil {
		err = fmt.Errorf("%w: %s", err, s)
	}
	return stdout.Bytes(), err
}

// iperf3Report is the part of iperf3's -J output the handler reads.
type iperf3Report struct {
	End struct {
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   int64   `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Bytes         int64   `json:"bytes"`
			Seconds       float64 `json:"seconds"`
		} `json:"sum_received"`
	} `json:"end"`
	// Error is set when the test failed; iperf3 3.12 still exits 0 with -J then.
	Error string `json:"error"`
}

// parseIperf3Output turns the client's JSON report (and its exit error) into a response
// or an IperfError carrying iperf3's own message.
func parseIperf3Output(out []byte, runErr error) (Iperf3Response, error) {
	var rep iperf3Report
	jsonErr := json.Unmarshal(out, &rep)
	switch {
	case jsonErr == nil && rep.Error != "":
		return Iperf3Response{}, iperfError(rep.Error)
	case runErr != nil:
		return Iperf3Response{}, iperfError(fmt.Sprintf("running %s: %v %s", iperf3Binary, runErr, bytes.TrimSpace(out)))
	case jsonErr != nil:
		return Iperf3Response{}, iperfError(fmt.Sprintf("unreadable JSON report (%v): %.200q", jsonErr, out))
	}
	return Iperf3Response{
		BitsPerSecond:     rep.End.SumReceived.BitsPerSecond,
		SentBitsPerSecond: rep.End.SumSent.BitsPerSecond,
		Bytes:             rep.End.SumReceived.Bytes,
		Seconds:           rep.End.SumReceived.Seconds,
		Retransmits:       rep.End.SumSent.Retransmits,
	}, nil
}

func iperfError(msg string) error {
	return &handlerError{
		errorType: "IperfError",
		sentinel:  ErrIperf,
		msg:       "iperf3: " + msg + ": check that an iperf3 server listens on host:port and is not busy",
	}
}
