// Package handlers holds faaslab's built-in function workloads, selected by the _HANDLER
// environment variable of a sandbox running cmd/faaslab-runtime.
//
// Each handler lives in its own file and adds itself to the registry from an init
// function, so a new workload (an iperf3 client, an object store download, the benchmark
// proxy) is one new file. The registry is written only during package initialisation and
// read-only afterwards.
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
	"slices"
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

// registry maps a _HANDLER name to its handler; filled by register from init functions.
var registry = map[string]Handler{}

// register adds a handler; called from init functions only.
func register(name string, h Handler) {
	if _, dup := registry[name]; dup {
		panic("handlers: duplicate handler " + name)
	}
	registry[name] = h
}

// Lookup returns the built-in handler called name.
func Lookup(name string) (Handler, bool) {
	h, ok := registry[name]
	return h, ok
}

// Names lists the built-in handlers, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
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
