package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestParseGood(t *testing.T) {
	s, err := Parse([]byte(`
name: mix
policy: [none, proportional-strict]
sample_interval: 50ms
nic: 560mbit
parts:
  - name: a
    workload: iperf3-down
    colocation: [1, 8]
    quick: {colocation: 2}
  - name: b
    workload: [s3get]
    mix: [128, 512]
`))
	if err != nil {
		t.Fatal(err)
	}
	parts := s.Resolved(false)
	if len(parts) != 2 || len(parts[0].Policy) != 2 || parts[1].Counts()[0] != 2 || parts[1].MemoryMB != nil {
		t.Errorf("resolved %+v", parts)
	}
	if q := s.Resolved(true); q[0].Colocation[0] != 2 || q[1].Colocation != nil {
		t.Errorf("quick %+v", q)
	}
	if s.Interval().Milliseconds() != 50 || *parts[0].Objects != defaults.Objects {
		t.Errorf("interval %v objects %d", s.Interval(), *parts[0].Objects)
	}
}

// Every bad spec is rejected with the field, the value and what is allowed named.
func TestParseRejectsNamingTheField(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"name: x\nworkload: iperf3\n", `workload: "iperf3": allowed iperf3-up`},
		{"name: x\nworkload: s3get\npolicy: fair\n", `policy: "fair": allowed none, equal`},
		{"name: x\nworkload: s3get\ncpu_model: [paper, aws]\n", `cpu_model: "aws": allowed paper, lambda`},
		{"name: x\nworkload: s3get\nnic_queue: sfq\n", `nic_queue: "sfq": allowed fair, fifo`},
		{"name: x\nworkload: s3get\nmemory_mb: [64]\n", "memory_mb: 64: allowed 128 … 10240"},
		{"name: x\nworkload: s3get\ncolocation: 0\n", "colocation: 0: allowed 1 …"},
		{"name: x\nworkload: s3get\nobjects: 0\n", "objects: 0: allowed 1 …"},
		{"name: x\nworkload: s3get\nrepetitions: -1\n", "repetitions: -1"},
		{"name: x\nworkload: s3get\nsample_interval: 1ms\n", "sample_interval: 1ms: allowed ≥ 10ms"},
		{"name: x\nworkload: s3get\nsample_interval: fast\n", `"fast" is not a duration`},
		{"name: x\nworkload: s3get\nprofile: t2.micro\n", `profile: "t2.micro": allowed c3.large`},
		{"name: x\nworkload: s3get\nbackend: kvm\n", `backend: "kvm": allowed native, docker`},
		{"name: x\nworkload: s3get\nwan: dsl\n", `wan: "dsl": allowed none`},
		{"name: x\nworkload: s3get\nnic: fast\n", `nic: "fast": allowed a rate`},
		{"name: x\nworkload: s3get\npolicy: fixed\n", `policy: fixed: allowed only with fixed_rate`},
		{"name: x\n", "workload: (missing)"},
		{"name: x\nworkload: s3get\nmemroy_mb: 128\n", "field memroy_mb not found"},
		{"name: x y\nworkload: s3get\n", `name: "x y"`},
		{"name: x\nworkload: s3get\nquick: {iperf_seconds: 0}\n", "quick: iperf_seconds: 0: allowed 1 … 900"},
		{"name: x\nparts:\n  - name: p\n    workload: s3get\n    chunk_mb: 2000\n", "parts[0].chunk_mb: 2000: allowed 1 … 1024"},
		{"name: x\nworkload: s3get\nparts:\n  - {name: p}\n  - {name: p}\n", `parts[1].name: "p"`},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want it to contain %q", tc.doc, err, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v is not ErrInvalid", tc.doc, err)
		}
	}
}

// A quick block's error is reported once with its quick prefix, an inherited one once.
func TestErrorsAreNotRepeated(t *testing.T) {
	_, err := Parse([]byte("name: x\nworkload: bad\nparts:\n  - {name: a}\n  - {name: b}\n"))
	if err == nil || strings.Count(err.Error(), `"bad"`) != 2 || strings.Contains(err.Error(), "quick") {
		t.Errorf("got %v", err)
	}
}

// A spec that loads is a spec the daemon's policy PUT accepts: nic, fixed_rate and each
// policy are checked by the daemon's own parser (shape.ParsePolicyConfig).
func TestPolicyRatesAsTheDaemonParsesThem(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"name: x\nworkload: s3get\nfixed_rate: unlimited\n", `fixed_rate: "unlimited": allowed a rate of at least 8kbit`},
		{"name: x\nworkload: s3get\nfixed_rate: 0\npolicy: fixed\n", `fixed_rate: "0": allowed a rate of at least 8kbit`},
		{"name: x\nworkload: s3get\nnic: 1kbit\n", `nic: "1kbit": allowed a rate of at least 8kbit`},
		{"name: x\nworkload: s3get\nnic: unlimited\npolicy: [none, equal]\n", `policy: "equal" with nic "unlimited": the daemon refuses it`},
		{"name: x\nworkload: s3get\nnic: 0\nparts:\n  - {name: a, policy: proportional-strict}\n", `parts[0].policy: "proportional-strict" with nic "0"`},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: got %v, want an ErrInvalid containing %q", tc.doc, err, tc.want)
		}
	}
	for _, doc := range []string{
		"name: x\nworkload: s3get\nnic: Unlimited\npolicy: none\n", // the daemon ignores case
		"name: x\nworkload: s3get\nnic: 8kbit\nfixed_rate: 8kbit\npolicy: [fixed, equal, priority]\n",
		"name: x\nworkload: s3get\nnic: unlimited\nfixed_rate: 100mbit\npolicy: fixed\nnic_queue: [fair, fifo]\n",
	} {
		if _, err := Parse([]byte(doc)); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}
