// Package faasbench is the generator of the FaaS benchmarking framework (docs/faasbench.md):
// it sends the paper's requests to a proxy function, which calls a target function and
// measures it from inside the platform, and it records every call's status, responses,
// runtimes and the HTTP header and body sizes and transmission times at m1 (generator →
// proxy request), m2 (proxy → target request), m3 (target → proxy response) and m4 (proxy
// → generator response).
//
// The same spec runs against faaslab (the generator creates the functions and their URLs
// through the daemon's API) or against any HTTP endpoint (explicit URLs).
package faasbench

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Platforms a spec runs against.
const (
	PlatformFaaslab = "faaslab"
	PlatformHTTP    = "http"
)

// Workload kinds.
const (
	KindBatch          = "batch"
	KindResponsiveness = "responsiveness"
	KindTimeout        = "timeout"
)

// Targets the generator knows how to build data for; on faaslab each is the built-in
// handler faasbench-<target>.
var knownTargets = []string{"wordcount", "sleep", "cpu", "timeout"}

// Spec is one benchmark run, read from YAML.
type Spec struct {
	Name          string        `yaml:"name"`
	Platform      string        `yaml:"platform"` // faaslab | http
	Faaslab       FaaslabSpec   `yaml:"faaslab"`
	HTTP          HTTPSpec      `yaml:"http"`
	ClientTimeout time.Duration `yaml:"client_timeout"` // the generator's own limit per call
	Workloads     []Workload    `yaml:"workloads"`
}

// FaaslabSpec says how to set the functions up on a faaslab daemon.
type FaaslabSpec struct {
	Endpoint       string `yaml:"endpoint"`        // Lambda API, e.g. http://127.0.0.1:3001 ("" = the caller's, else client.DefaultEndpoint)
	FunctionPrefix string `yaml:"function_prefix"` // functions are <prefix>-proxy, <prefix>-<target>
	MemoryMB       int    `yaml:"memory_mb"`
	TimeoutS       int    `yaml:"timeout_s"`
	KeepFunctions  bool   `yaml:"keep_functions"` // leave them (and their URLs) after the run
}

// HTTPSpec are the URLs of a platform that is not faaslab (or of functions set up by hand).
type HTTPSpec struct {
	ProxyURL      string            `yaml:"proxy_url"`
	AsyncProxyURL string            `yaml:"async_proxy_url"` // "" = proxy_url with X-Amz-Invocation-Type: Event
	Targets       map[string]string `yaml:"targets"`         // target name → URL as the proxy reaches it
}

// Workload is one block of calls.
type Workload struct {
	Name   string          `yaml:"name"`
	Kind   string          `yaml:"kind"`   // batch | responsiveness | timeout
	Target string          `yaml:"target"` // wordcount | sleep | cpu | timeout
	Words  int             `yaml:"words"`  // wordcount: this many one-letter words
	Ms     int             `yaml:"ms"`     // sleep, cpu: {"ms": N}
	Data   any             `yaml:"data"`   // any other workload data, sent as JSON
	Batch  BatchSpec       `yaml:",inline"`
	Waits  []time.Duration `yaml:"waits"` // responsiveness: pause before each call
	// timeout: GatewaySleepMs makes the sleep target outlast the gateway's timeout (0 =
	// skip); FunctionTimeoutS is the timeout target's function timeout on faaslab.
	GatewaySleepMs   int `yaml:"gateway_sleep_ms"`
	FunctionTimeoutS int `yaml:"function_timeout_s"`
}

// BatchSpec is a batch's size and shape.
type BatchSpec struct {
	Requests    int  `yaml:"requests"`
	Concurrency int  `yaml:"concurrency"`
	Async       bool `yaml:"async"`
}

// Defaults for what a spec leaves out. The endpoint is left empty, so a caller (the CLI's
// --endpoint or FAASLAB_ENDPOINT) can still choose it; the Runner falls back to
// client.DefaultEndpoint.
const (
	defaultPrefix        = "faasbench"
	defaultMemoryMB      = 128
	defaultTimeoutS      = 60
	defaultClientTimeout = 2 * time.Minute
	defaultFnTimeoutS    = 1
)

// LoadSpec reads a YAML spec; unknown keys are an error.
func LoadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, err
	}
	return ParseSpec(data)
}

// ParseSpec decodes and validates a YAML spec, filling defaults.
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("spec: %w", err)
	}
	s.fillDefaults()
	return s, s.Validate()
}

func (s *Spec) fillDefaults() {
	s.Platform = cmp.Or(s.Platform, PlatformFaaslab)
	s.ClientTimeout = cmp.Or(s.ClientTimeout, defaultClientTimeout)
	f := &s.Faaslab
	f.FunctionPrefix = cmp.Or(f.FunctionPrefix, defaultPrefix)
	f.MemoryMB = cmp.Or(f.MemoryMB, defaultMemoryMB)
	f.TimeoutS = cmp.Or(f.TimeoutS, defaultTimeoutS)
	for i := range s.Workloads {
		w := &s.Workloads[i]
		w.Batch.Requests = cmp.Or(w.Batch.Requests, 1)
		w.Batch.Concurrency = cmp.Or(w.Batch.Concurrency, 1)
		if w.Kind == KindTimeout && w.FunctionTimeoutS == 0 {
			w.FunctionTimeoutS = defaultFnTimeoutS
		}
	}
}

// Validate names the first bad field.
func (s *Spec) Validate() error {
	if s.Name == "" {
		return errors.New("spec: name is empty")
	}
	switch s.Platform {
	case PlatformFaaslab:
	case PlatformHTTP:
		if s.HTTP.ProxyURL == "" {
			return errors.New("spec: platform http needs http.proxy_url")
		}
	default:
		return fmt.Errorf("spec: platform %q: use faaslab or http", s.Platform)
	}
	if len(s.Workloads) == 0 {
		return errors.New("spec: no workloads")
	}
	seen := map[string]bool{}
	for i, w := range s.Workloads {
		where := fmt.Sprintf("spec: workloads[%d] (%s)", i, w.Name)
		if w.Name == "" || seen[w.Name] {
			return fmt.Errorf("%s: name must be set and unique", where)
		}
		seen[w.Name] = true
		for _, t := range w.targets() {
			if !known(t) {
				return fmt.Errorf("%s: target %q: use one of %s", where, t, strings.Join(knownTargets, ", "))
			}
			if s.Platform == PlatformHTTP && s.HTTP.Targets[t] == "" {
				return fmt.Errorf("%s: platform http needs http.targets.%s", where, t)
			}
		}
		switch w.Kind {
		case KindBatch:
			if w.Batch.Requests < 1 || w.Batch.Concurrency < 1 {
				return fmt.Errorf("%s: requests %d and concurrency %d must be ≥ 1", where, w.Batch.Requests, w.Batch.Concurrency)
			}
		case KindResponsiveness:
			if len(w.Waits) == 0 {
				return fmt.Errorf("%s: responsiveness needs waits (e.g. [0s, 1s, 10s])", where)
			}
		case KindTimeout:
			if w.FunctionTimeoutS < 1 {
				return fmt.Errorf("%s: function_timeout_s %d must be ≥ 1", where, w.FunctionTimeoutS)
			}
		default:
			return fmt.Errorf("%s: kind %q: use batch, responsiveness or timeout", where, w.Kind)
		}
		if w.Words < 0 || w.Ms < 0 {
			return fmt.Errorf("%s: words %d and ms %d must be ≥ 0", where, w.Words, w.Ms)
		}
	}
	return nil
}

func known(t string) bool {
	for _, k := range knownTargets {
		if k == t {
			return true
		}
	}
	return false
}

// targets are the target functions a workload calls.
func (w Workload) targets() []string {
	if w.Kind == KindTimeout {
		if w.GatewaySleepMs > 0 {
			return []string{"sleep", "timeout"}
		}
		return []string{"timeout"}
	}
	return []string{w.Target}
}

// data is the workload data for target t: words, ms, or data as JSON.
func (w Workload) data(t string) (json.RawMessage, error) {
	switch {
	case w.Kind == KindTimeout && t == "sleep":
		return json.Marshal(map[string]int{"ms": w.GatewaySleepMs})
	case w.Kind == KindTimeout:
		return json.RawMessage("{}"), nil
	case w.Data != nil:
		return json.Marshal(w.Data)
	case t == "wordcount":
		return json.Marshal(Words(w.Words))
	case t == "sleep" || t == "cpu":
		return json.Marshal(map[string]int{"ms": w.Ms})
	}
	return json.RawMessage("{}"), nil
}

// Words is n one-letter words separated by single spaces, as in the paper's "F a a S".
func Words(n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, 2*n-1)
	for i := range n {
		b[2*i] = byte('a' + i%26)
		if i < n-1 {
			b[2*i+1] = ' '
		}
	}
	return string(b)
}

// PaperWordcount is the paper's scenario: one word count request per workload of 10,
// 10², … 10⁶ words through the proxy (Tables 2 and 3), repeated `repeat` times.
func PaperWordcount(endpoint string, repeat int) Spec {
	s := Spec{Name: "paper-wordcount", Platform: PlatformFaaslab,
		Faaslab: FaaslabSpec{Endpoint: endpoint, MemoryMB: 1024}}
	for n := 10; n <= 1_000_000; n *= 10 {
		s.Workloads = append(s.Workloads, Workload{Name: fmt.Sprintf("words-%d", n), Kind: KindBatch,
			Target: "wordcount", Words: n, Batch: BatchSpec{Requests: repeat, Concurrency: 1}})
	}
	s.fillDefaults()
	return s
}
