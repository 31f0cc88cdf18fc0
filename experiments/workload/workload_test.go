package workload

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/runtime/handlers"
)

func TestPayloadsAndAnswers(t *testing.T) {
	down, _ := Lookup("iperf3-down")
	var req handlers.Iperf3Request
	if err := json.Unmarshal(down.IperfPayload("10.1.255.254", 5203, 3), &req); err != nil || !req.Reverse || req.Port != 5203 || req.Seconds != 3 || req.Host != "10.1.255.254" {
		t.Errorf("iperf3 payload %+v %v", req, err)
	}
	var inv record.Invocation
	ans, _ := json.Marshal(handlers.Iperf3Response{BitsPerSecond: 5e8, Bytes: 1 << 20, Seconds: 3})
	if err := down.ParseResult(ans, &inv); err != nil || inv.BitsPerSec != 5e8 || inv.Seconds != 3 {
		t.Errorf("iperf3 answer %+v %v", inv, err)
	}

	put, _ := Lookup("s3put-boto3")
	var doc map[string]any
	json.Unmarshal(put.ObjectPayload("b", "k", 10_000_000), &doc)
	if !put.Upload || put.Handler != "s3put-boto3" || doc["bytes"] != 1e7 || doc["bucket"] != "b" {
		t.Errorf("s3put payload %v", doc)
	}
	get, _ := Lookup("s3get")
	json.Unmarshal(get.ObjectPayload("b", "k", 10), &doc)
	inv = record.Invocation{}
	if err := get.ParseResult([]byte(`{"bytes":10000000,"seconds":0.5,"mb_per_sec":9.5,"throttled_periods":7,"sandbox_id":"s1"}`), &inv); err != nil ||
		inv.BitsPerSec != 1.6e8 || inv.ThrottledPeriods != 7 || inv.SandboxID != "s1" {
		t.Errorf("s3get answer %+v %v", inv, err)
	}
	if err := get.ParseResult([]byte(`nope`), &inv); err == nil {
		t.Error("an unreadable answer was accepted")
	}
	if _, err := Lookup("iperf3"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown workload: %v", err)
	}
	if m := ErrorMessage([]byte(`{"errorType":"InvalidPayload","errorMessage":"bucket is required"}`)); m != "InvalidPayload: bucket is required" {
		t.Errorf("error message %q", m)
	}
}

// Which side sends is known in one place, for every workload (the analysis once guessed it
// from the name).
func TestSends(t *testing.T) {
	for name, want := range map[string]bool{"iperf3-up": true, "iperf3-down": false, "s3get": false,
		"s3get-boto3": false, "s3put": true, "s3put-boto3": true} {
		w, err := Lookup(name)
		if err != nil || w.Sends() != want {
			t.Errorf("%s: Sends %v (%v), want %v", name, w.Sends(), err, want)
		}
	}
}

// Names (what a spec may name) and Lookup (what the runner runs) are one list.
func TestNamesAreLookedUp(t *testing.T) {
	for _, n := range Names() {
		if w, err := Lookup(n); err != nil || w.Name != n {
			t.Errorf("%s: %+v, %v", n, w, err)
		}
	}
	if _, err := Lookup("s3list"); !errors.Is(err, ErrUnknown) {
		t.Errorf("an unknown workload: %v", err)
	}
}
