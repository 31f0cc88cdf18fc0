// Package handlers holds faaslab's built-in function workloads, selected by the _HANDLER
// environment variable of a sandbox running cmd/faaslab-runtime.
//
// Each handler lives in its own file; builtins below names them all, so a new workload is
// one new file and one line there.
//
// Payloads and responses are JSON:
//
//	echo       any bytes               -> the same bytes
//	sleep      {"ms": N}               -> {"ms": N}                        after N ms
//	cpu        {"ms": N}               -> {"ms": N, "iterations": I, "elapsedMs": E}
//	alloc      {"mb": N, "holdMs": H}  -> {"mb": N, "bytes": B, "pages": P}
//	wordcount  {"text": "..."} | "..." -> {"words": W, "letters": L}
//	iperf3     {"host": H, "port": 5201, "seconds": 10, "reverse": false, "zerocopy": true,
//	            "omit": 0, "parallel": 1}
//	                                   -> {"bits_per_second", "sent_bits_per_second", "bytes",
//	                                       "seconds", "reverse", "retransmits", "host", "port"}
//	s3get, s3get-boto3  {"bucket", "key", "part_mb"}
//	s3put, s3put-boto3  {"bucket", "key", "bytes", "part_mb"}
//	                                   -> {"bucket", "key", "bytes", "seconds", "mb_per_sec",
//	                                       "ttfb_seconds", "records", "words", "cpu_seconds",
//	                                       "throttled_periods", "nr_periods",
//	                                       "throttled_seconds", "sandbox_id", "host_id"}
//	faasbench-proxy, faasbench-wordcount, faasbench-sleep, faasbench-cpu, faasbench-timeout:
//	                                   the benchmarking framework's functions (faasbench.go)
//	sandboxinfo (ignored)              -> {"hostname", "cgroup", "threads": [{"tid", "uid",
//	                                       "capEff", "capBnd", "noNewPrivs"}]}
//
// A handler error becomes a Lambda error document ({"errorMessage", "errorType"}); bad
// payloads have errorType "InvalidPayload", interrupted work (the deadline passed)
// "Interrupted", iperf3's own failures (server busy, refused) "IperfError".
package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Handler handles one event: payload in, response out.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalidPayload: the event is not what the handler documents.
	ErrInvalidPayload = errors.New("invalid payload")
	// ErrInterrupted: the invocation's deadline passed (or its context ended) mid-work.
	ErrInterrupted = errors.New("interrupted")
)

// builtins maps each _HANDLER name to its handler. A function, not a variable: nothing
// can change the table at run time.
func builtins() map[string]Handler {
	return map[string]Handler{
		"echo":        Echo,
		"sleep":       Sleep,
		"cpu":         CPU,
		"alloc":       Alloc,
		"wordcount":   WordCount,
		"sandboxinfo": SandboxInfo,
		"iperf3":      Iperf3,
		"s3get":       S3Get,
		"s3put":       S3Put,
		"s3get-boto3": S3GetBoto3,
		"s3put-boto3": S3PutBoto3,
		// The benchmarking framework's functions (faasbench.go).
		"faasbench-proxy":     FaasbenchProxy,
		"faasbench-wordcount": instrumented(WordCount),
		"faasbench-sleep":     instrumented(Sleep),
		"faasbench-cpu":       instrumented(CPU),
		"faasbench-timeout":   instrumented(untilDeadline),
	}
}

// Lookup returns the built-in handler called name.
func Lookup(name string) (Handler, bool) {
	h, ok := builtins()[name]
	return h, ok
}

// Names lists the built-in handlers, sorted.
func Names() []string {
	table := builtins()
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// handlerError carries a Lambda errorType along with the sentinel it matches.
type handlerError struct {
	errorType string
	sentinel  error
	msg       string
}

func (e *handlerError) Error() string     { return e.msg }
func (e *handlerError) ErrorType() string { return e.errorType }
func (e *handlerError) Unwrap() error     { return e.sentinel }

func invalidPayload(handler, want string, err error) error {
	return &handlerError{
		errorType: "InvalidPayload",
		sentinel:  ErrInvalidPayload,
		msg:       fmt.Sprintf("%s: invalid payload (%v): send %s", handler, err, want),
	}
}

func interrupted(handler string, err error) error {
	return &handlerError{
		errorType: "Interrupted",
		sentinel:  ErrInterrupted,
		msg:       fmt.Sprintf("%s: interrupted before finishing: %v", handler, err),
	}
}

// decode reads a JSON object payload into v; an empty payload leaves v as is.
func decode(payload []byte, v any) error {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// toolDirs are where findTool looks after PATH: a sandbox's environment may carry no PATH
// at all.
var toolDirs = []string{"/usr/bin", "/usr/local/bin", "/bin"}

// findTool finds a program the handlers run (iperf3, python3) on PATH — the host's
// /usr/bin in native sandboxes (read-only bind), the image's in docker sandboxes — then in
// toolDirs. On failure it returns the PATH lookup's error.
func findTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range toolDirs {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (also not in %s)", err, strings.Join(toolDirs, ", "))
}
