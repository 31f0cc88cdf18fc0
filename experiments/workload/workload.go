// Package workload knows each workload's handler, payload and answer: what the runner sends
// a function and how it reads the handler's JSON result into an invocation record. It is
// pure: no network.
package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/faaslab/faaslab/runtime/handlers"

	"github.com/faaslab/faaslab/experiments/record"
)

// Kind says how a workload is driven.
type Kind int

const (
	// Iperf: each co-located function runs one iperf3 test against its own server port.
	Iperf Kind = iota
	// Object: the functions share a work queue of objects, as the paper's orchestrator did.
	Object
)

// Workload is one of Names.
type Workload struct {
	Name    string
	Kind    Kind
	Handler string // the built-in handler the function runs
	Reverse bool   // iperf3 -R: the server sends (download)
	Upload  bool   // object workloads that write (s3put)
}

// Sends reports whether the function is the sender (iperf3 without -R, s3put): the host
// counters of its upload direction measure it.
func (w Workload) Sends() bool { return w.Kind == Iperf && !w.Reverse || w.Upload }

// Names are the workloads Lookup knows, in the order error messages list them.
func Names() []string {
	return []string{"iperf3-up", "iperf3-down", "s3get", "s3put", "s3get-boto3", "s3put-boto3"}
}

// ErrUnknown: a workload name the runner does not know.
var ErrUnknown = errors.New("unknown workload")

// Lookup returns a workload by its spec name.
func Lookup(name string) (Workload, error) {
	switch name {
	case "iperf3-up":
		return Workload{Name: name, Kind: Iperf, Handler: "iperf3"}, nil
	case "iperf3-down":
		return Workload{Name: name, Kind: Iperf, Handler: "iperf3", Reverse: true}, nil
	case "s3get", "s3get-boto3":
		return Workload{Name: name, Kind: Object, Handler: name}, nil
	case "s3put", "s3put-boto3":
		return Workload{Name: name, Kind: Object, Handler: name, Upload: true}, nil
	}
	return Workload{}, fmt.Errorf("%w %q", ErrUnknown, name)
}

// WarmPayload is sent once to every function before the barrier: an empty object, which
// every built-in handler rejects at once (a handled error keeps the sandbox warm), so
// warming moves no bytes and takes no time.
func WarmPayload() []byte { return []byte("{}") }

// IperfPayload is the iperf3 handler's payload for one function: its own server port, the
// trial's duration, -R for download.
func (w Workload) IperfPayload(host string, port int, seconds float64) []byte {
	b, _ := json.Marshal(struct {
		Host    string `json:"host"`
		Port    int    `json:"port"`
		Seconds int    `json:"seconds"`
		Reverse bool   `json:"reverse,omitempty"`
	}{host, port, max(1, int(seconds+0.5)), w.Reverse})
	return b
}

// ObjectPayload is an object handler's payload: get bucket/key, or put bytes there.
func (w Workload) ObjectPayload(bucket, key string, bytes int64) []byte {
	doc := map[string]any{"bucket": bucket, "key": key}
	if w.Upload {
		doc["bytes"] = bytes
	}
	b, _ := json.Marshal(doc)
	return b
}

// iperfAnswer is the iperf3 handler's answer (runtime/handlers.Iperf3Response).
type iperfAnswer struct {
	BitsPerSecond float64 `json:"bits_per_second"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
}

// ParseResult fills inv's handler fields from the handler's JSON answer.
func (w Workload) ParseResult(payload []byte, inv *record.Invocation) error {
	if w.Kind == Iperf {
		var a iperfAnswer
		if err := json.Unmarshal(payload, &a); err != nil {
			return fmt.Errorf("%s answer %.200q: %w", w.Handler, payload, err)
		}
		inv.Bytes, inv.Seconds, inv.BitsPerSec = a.Bytes, a.Seconds, a.BitsPerSecond
		return nil
	}
	var a handlers.S3Response
	if err := json.Unmarshal(payload, &a); err != nil {
		return fmt.Errorf("%s answer %.200q: %w", w.Handler, payload, err)
	}
	inv.Bytes, inv.Seconds, inv.TTFBSeconds = a.Bytes, a.Seconds, a.TTFBSeconds
	if a.Seconds > 0 { // from bytes and seconds: no doubt about what an "MB" is
		inv.BitsPerSec = float64(a.Bytes) * 8 / a.Seconds
	}
	inv.CPUSeconds, inv.ThrottledSeconds = a.CPUSeconds, a.ThrottledSeconds
	inv.ThrottledPeriods, inv.NrPeriods = a.ThrottledPeriods, a.NrPeriods
	inv.SandboxID, inv.HostID = a.SandboxID, a.HostID
	return nil
}

// ErrorMessage turns a function error's payload (Lambda's {"errorType","errorMessage"})
// into one line.
func ErrorMessage(payload []byte) string {
	var doc struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &doc) == nil && doc.Message != "" {
		return strings.TrimSpace(doc.Type + ": " + doc.Message)
	}
	return strings.TrimSpace(string(payload))
}

// SetName is the dataset chunk set of an object size: 10 MB → "10mb".
func SetName(objectMB int) string { return fmt.Sprintf("%dmb", objectMB) }
