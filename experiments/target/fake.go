package target

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/faaslab/faaslab/client"
)

// Fake is an in-memory host for the runner's tests: functions, invocations that take
// Delay (or until their context ends), a fair-shared NIC in the answers, and a log of what
// happened in what order. It never touches the network.
type Fake struct {
	Label     string
	Delay     time.Duration // how long a measured invocation takes
	NICBits   float64       // shared equally by the invocations running at once
	Objects   int           // objects in every data set
	NoS3Store bool          // DataSet fails as a daemon without the S3 store does

	mu        sync.Mutex
	functions map[string]Function
	running   int
	// Log, in order: create NAME, delete NAME, policy NAME, warm NAME, start NAME, end NAME,
	// uploads-deleted RUN.
	Log        []string
	MaxRunning int                         // most measured invocations at once
	Payloads   []string                    // every measured payload
	Progress   []client.ExperimentProgress // every progress report
	Started    []time.Time                 // start of every measured invocation
	Samples    int                         // Sample calls
	Policies   []Policy                    // SetPolicy calls
	invoked    chan struct{}               // signalled on every measured start
}

// NewFake returns a fake host.
func NewFake(label string, delay time.Duration) *Fake {
	return &Fake{Label: label, Delay: delay, NICBits: 560e6, Objects: 5, functions: map[string]Function{}, invoked: make(chan struct{}, 1<<16)}
}

// Invoked signals each measured invocation's start.
func (f *Fake) Invoked() <-chan struct{} { return f.invoked }

func (f *Fake) log(s string) {
	f.mu.Lock()
	f.Log = append(f.Log, s)
	f.mu.Unlock()
}

// Name is the fake's label.
func (f *Fake) Name() string { return f.Label }

// ReportProgress records the report.
func (f *Fake) ReportProgress(_ context.Context, p client.ExperimentProgress) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Progress = append(f.Progress, p)
	return nil
}

// CreateFunction records the function.
func (f *Fake) CreateFunction(_ context.Context, fn Function) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.functions[fn.Name]; ok {
		return fmt.Errorf("function %s exists", fn.Name)
	}
	f.functions[fn.Name] = fn
	f.Log = append(f.Log, "create "+fn.Name)
	return nil
}

// DeleteFunction forgets it.
func (f *Fake) DeleteFunction(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.functions, name)
	f.Log = append(f.Log, "delete "+name)
	return nil
}

// Functions is how many functions exist now.
func (f *Fake) Functions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.functions)
}

// Invoke answers the warm-up "{}" at once with a handled error (as the built-in handlers
// do) and any other payload after Delay with an iperf3- or object-shaped answer.
func (f *Fake) Invoke(ctx context.Context, name string, payload []byte) (client.InvokeResult, error) {
	f.mu.Lock()
	fn, ok := f.functions[name]
	f.mu.Unlock()
	if !ok {
		return client.InvokeResult{}, &client.APIError{Status: 404, Message: "Function not found: " + name}
	}
	id := fmt.Sprintf("req-%s-%d", name, time.Now().UnixNano())
	if string(payload) == "{}" {
		f.log("warm " + name)
		return client.InvokeResult{Status: 200, RequestID: id, FunctionError: "Handled",
			Payload: []byte(`{"errorType":"InvalidPayload","errorMessage":"host is required"}`)}, nil
	}
	f.mu.Lock()
	f.running++
	f.MaxRunning = max(f.MaxRunning, f.running)
	f.Payloads = append(f.Payloads, string(payload))
	f.Started = append(f.Started, time.Now())
	f.Log = append(f.Log, "start "+name)
	share := f.NICBits / float64(f.running)
	f.mu.Unlock()
	f.invoked <- struct{}{}
	defer func() {
		f.mu.Lock()
		f.running--
		f.Log = append(f.Log, "end "+name)
		f.mu.Unlock()
	}()
	select {
	case <-time.After(f.Delay):
	case <-ctx.Done():
		return client.InvokeResult{}, ctx.Err()
	}
	secs := f.Delay.Seconds()
	ans, _ := json.Marshal(map[string]any{
		"bits_per_second": share, "bytes": int64(share * secs / 8), "seconds": secs,
		"mb_per_sec": share / 8e6, "sandbox_id": "sb-" + name, "host_id": f.Label, "memory": fn.MemoryMB,
	})
	return client.InvokeResult{Status: 200, RequestID: id, Payload: ans}, nil
}

// SetPolicy records the policy.
func (f *Fake) SetPolicy(_ context.Context, p Policy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Policies = append(f.Policies, p)
	f.Log = append(f.Log, "policy "+p.Name)
	return nil
}

// Sample counts calls and answers an empty sample stamped now.
func (f *Fake) Sample(context.Context) (client.NetworkSample, error) {
	f.mu.Lock()
	f.Samples++
	f.mu.Unlock()
	return client.NetworkSample{Time: time.Now(), Sandboxes: map[string]client.SandboxTraffic{}}, nil
}

// IperfPool answers n ports.
func (f *Fake) IperfPool(_ context.Context, n int) (IperfPool, error) {
	p := IperfPool{Host: "10.0.255.254"}
	for i := range n {
		p.Ports = append(p.Ports, 5201+i)
	}
	return p, nil
}

// DataSet answers Objects objects of the set.
func (f *Fake) DataSet(_ context.Context, name string, count int) (DataSet, error) {
	if f.NoS3Store {
		return DataSet{}, fmt.Errorf("%s: %w", f.Label, ErrNoS3Store)
	}
	s := DataSet{Bucket: "faaslab-data", Name: name, ObjectBytes: 10 << 20}
	for i := range min(f.Objects, count) {
		s.Objects = append(s.Objects, Object{Key: fmt.Sprintf("%s/%04d", name, i), Bytes: 10 << 20})
	}
	return s, nil
}

// DeleteUploads logs "uploads-deleted RUN".
func (f *Fake) DeleteUploads(_ context.Context, run string) error {
	f.log("uploads-deleted " + run)
	return nil
}

// Records has none: the runner must cope with ErrNoRecords.
func (f *Fake) Records(context.Context) (map[string]DaemonRecord, error) { return nil, ErrNoRecords }

// FakeFleet hands out fixed hosts and counts configuration changes (daemon restarts).
type FakeFleet struct {
	HostsList []Host
	Configs   []HostConfig
}

// Hosts records cfg and returns the hosts.
func (f *FakeFleet) Hosts(_ context.Context, cfg HostConfig) ([]Host, error) {
	if n := len(f.Configs); n == 0 || f.Configs[n-1] != cfg {
		f.Configs = append(f.Configs, cfg)
	}
	return f.HostsList, nil
}

// Accepts every configuration.
func (f *FakeFleet) Accepts([]HostConfig) error { return nil }

// Describe names the fakes.
func (f *FakeFleet) Describe() ([]string, []string) {
	var names []string
	for _, h := range f.HostsList {
		names = append(names, h.Name())
	}
	return names, nil
}

// Close does nothing.
func (f *FakeFleet) Close() error { return nil }
