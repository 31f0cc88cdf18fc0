package main

// End-to-end tests: the real faaslab binary runs as a daemon (as a user would start it) with
// its own link prefix, subnet, cgroup parent and port, so it never touches another daemon's
// objects; the tests talk to it over its Lambda API and then check the kernel is clean.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/sandbox"
)

type testDaemon struct {
	t        *testing.T
	cmd      *exec.Cmd
	endpoint string
	prefix   string
	cgroup   string
	stateDir string
	logPath  string
	client   *client.Client
	done     chan struct{}
}

// skipHeavy skips a test that moves a lot of traffic or data under -short: the cgroup v2 VM
// runs the suite with -short under software emulation (TCG) where these take minutes; the
// host run (make test) runs them all.
func skipHeavy(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short (the cgroup v2 VM): %s; the host run covers it", what)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t, "the daemon creates cgroups, namespaces and links")
}

// binary is the binary envVar names (the Makefile builds them once for the whole suite),
// else testutil.Binary's build of pkg.
func binary(t *testing.T, envVar, pkg string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	return testutil.Binary(t, pkg)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// daemon.Start runs `faaslab daemon` with a private prefix; extra flags are appended.
func launchDaemon(t *testing.T, extra ...string) *testDaemon {
	t.Helper()
	requireRoot(t)
	bin := binary(t, "FAASLAB_BIN", "github.com/faaslab/faaslab/cmd/faaslab")
	rt := binary(t, "FAASLAB_RUNTIME_BIN", "github.com/faaslab/faaslab/cmd/faaslab-runtime")
	id := testutil.RandomHex(6)
	d := &testDaemon{
		t:        t,
		prefix:   "faaslabe" + id[:3],
		cgroup:   "/faaslabe" + id[:3],
		stateDir: t.TempDir(),
		endpoint: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		done:     make(chan struct{}),
	}
	d.logPath = filepath.Join(d.stateDir, "daemon.log")
	for i, a := range extra { // a --listen of the caller's (e.g. 0.0.0.0:P): reach it through loopback
		if a == "--listen" && i+1 < len(extra) {
			if _, port, err := net.SplitHostPort(extra[i+1]); err == nil {
				d.endpoint = "127.0.0.1:" + port
			}
		}
	}
	// A /24 of its own per daemon, 10.202.0.0–10.209.255.0 at random (2,048 of them), so
	// daemons of tests running side by side do not overlap.
	var pick uint64
	fmt.Sscanf(id[3:], "%x", &pick)
	subnet := fmt.Sprintf("10.%d.%d.0/24", 202+pick%2048/256, pick%256)
	args := append([]string{"daemon",
		"--listen", d.endpoint,
		"--state-dir", d.stateDir,
		"--runtime-bin", rt,
		"--cgroup-parent", d.cgroup,
		"--net-prefix", d.prefix,
		"--subnet", subnet,
		"--runtime-port", fmt.Sprint(freePort(t)),
	}, extra...)
	logf, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); logf.Close(); close(d.done) }()
	t.Cleanup(func() {
		d.stop()
		// Whatever happened, leave nothing: the same cleanup a user runs after a crash.
		exec.Command(bin, "cleanup", "--net-prefix", d.prefix, "--cgroup-parent", d.cgroup).Run()
		if t.Failed() {
			if b, err := os.ReadFile(d.logPath); err == nil {
				t.Logf("daemon log:\n%s", tail(string(b), 8000))
			}
		}
	})
	d.client = client.New("http://" + d.endpoint)
	d.waitReady()
	return d
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (d *testDaemon) waitReady() {
	d.t.Helper()
	for i := 0; i < 300; i++ {
		select {
		case <-d.done:
			b, _ := os.ReadFile(d.logPath)
			d.t.Fatalf("daemon exited at start:\n%s", b)
		default:
		}
		c, err := net.Dial("tcp", d.endpoint)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatal("daemon did not listen within 15 s")
}

// stop sends SIGTERM (a clean shutdown) and waits.
func (d *testDaemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		d.t.Error("daemon did not stop within 30 s of SIGTERM")
	}
}

func (d *testDaemon) createFunction(name string, body map[string]any) {
	d.t.Helper()
	req := map[string]any{"FunctionName": name, "Runtime": "faaslab", "Handler": "echo",
		"Role": "arn:aws:iam::000000000000:role/x", "MemorySize": 128, "Timeout": 3, "Code": map[string]any{}}
	for k, v := range body {
		req[k] = v
	}
	// The overrides are Lambda's field names: round-trip them through JSON into the request.
	raw, err := json.Marshal(req)
	if err != nil {
		d.t.Fatal(err)
	}
	var typed client.CreateFunctionRequest
	if err := json.Unmarshal(raw, &typed); err != nil {
		d.t.Fatalf("create %s: overrides %v: %v", name, body, err)
	}
	if _, err := d.client.CreateFunction(context.Background(), typed); err != nil {
		d.t.Fatalf("create %s: %v", name, err)
	}
}

func (d *testDaemon) invoke(name, payload string) client.InvokeResult {
	d.t.Helper()
	res, err := d.client.Invoke(context.Background(), client.InvokeRequest{FunctionName: name, Payload: []byte(payload), TailLog: true})
	if err != nil {
		d.t.Fatalf("invoke %s: %v", name, err)
	}
	return res
}

// sandboxCgroups lists the sandbox cgroups under the daemon's parent.
func (d *testDaemon) sandboxCgroups() []string {
	return childCgroups(d.cgroup, sandbox.NamePrefix)
}

func childCgroups(parent, prefix string) []string {
	names, _ := sandbox.ChildCgroups(parent, prefix)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = parent + "/" + n
	}
	return out
}

// leftovers lists every kernel object of this daemon still present.
func (d *testDaemon) leftovers() []string {
	var left []string
	if out, _ := exec.Command("ip", "-o", "link", "show").Output(); true {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, d.prefix) {
				left = append(left, "link: "+l)
			}
		}
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); true {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, d.prefix) {
				left = append(left, "netns: "+l)
			}
		}
	}
	if out, err := exec.Command("iptables", "-S").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, d.prefix) {
				left = append(left, "iptables: "+l)
			}
		}
	}
	filepath.WalkDir("/sys/fs/cgroup", func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return nil
		}
		if strings.Contains(p, strings.TrimPrefix(d.cgroup, "/")) {
			left = append(left, "cgroup: "+p)
			return filepath.SkipDir
		}
		if strings.Count(p, "/") > 5 {
			return filepath.SkipDir
		}
		return nil
	})
	return left
}

func TestE2EInvokeBuiltinAndQuota(t *testing.T) {
	d := launchDaemon(t)
	d.createFunction("hello", nil)
	res := d.invoke("hello", `{"greeting":"hi"}`)
	if res.FunctionError != "" || !strings.Contains(string(res.Payload), `"greeting"`) {
		t.Fatalf("echo: function error %q payload %s", res.FunctionError, res.Payload)
	}
	if !strings.Contains(res.LogTail, "REPORT RequestId:") || !strings.Contains(res.LogTail, "Init Duration:") {
		t.Errorf("cold invoke log tail lacks REPORT with Init Duration:\n%s", res.LogTail)
	}
	res = d.invoke("hello", `{}`)
	if strings.Contains(res.LogTail, "Init Duration") {
		t.Errorf("second invoke should be warm:\n%s", res.LogTail)
	}
	cgs := d.sandboxCgroups()
	if len(cgs) != 1 {
		t.Fatalf("want 1 sandbox cgroup after 2 sequential invokes, got %v", cgs)
	}
	quota, period, err := sandbox.ReadCPUQuota(cgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if quota != 8500 || period != 100000 {
		t.Errorf("128 MB on c3.large: cpu quota %d/%d, want 8500/100000", quota, period)
	}
	d.stop()
	if left := d.leftovers(); len(left) > 0 {
		t.Errorf("after daemon stop, still present:\n%s", strings.Join(left, "\n"))
	}
}

// TestE2ESecondDaemonIsRefused: a second daemon with a running one's names, or a cleanup
// of them, is refused before it reaps anything; the running daemon keeps its sandboxes and
// network (a second start used to reap them from under it).
func TestE2ESecondDaemonIsRefused(t *testing.T) {
	d := launchDaemon(t)
	d.createFunction("hello", nil)
	d.invoke("hello", `{}`)
	bin := binary(t, "FAASLAB_BIN", "github.com/faaslab/faaslab/cmd/faaslab")
	rt := binary(t, "FAASLAB_RUNTIME_BIN", "github.com/faaslab/faaslab/cmd/faaslab-runtime")
	// A guard, not a measurement: a second daemon that is not refused runs until killed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "daemon", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--state-dir", t.TempDir(),
		"--runtime-bin", rt, "--net-prefix", d.prefix, "--cgroup-parent", d.cgroup, "--subnet", "10.210.7.0/24",
		"--runtime-port", fmt.Sprint(freePort(t)))
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "is running") {
		t.Errorf("a second daemon with the same names: %v\n%s\nwant a refusal", err, out)
	}
	if out, err := exec.Command(bin, "cleanup", "--net-prefix", d.prefix, "--cgroup-parent", d.cgroup).CombinedOutput(); err == nil || !strings.Contains(string(out), "is running") {
		t.Errorf("cleanup while the daemon runs: %v\n%s\nwant a refusal", err, out)
	}
	if cgs := d.sandboxCgroups(); len(cgs) != 1 {
		t.Errorf("the running daemon's sandbox cgroups: %v, want its one sandbox", cgs)
	}
	if res := d.invoke("hello", `{"still":"here"}`); !strings.Contains(string(res.Payload), "here") || strings.Contains(res.LogTail, "Init Duration") {
		t.Errorf("the running daemon after the refusals: %q %s (want a warm echo)\n%s", res.FunctionError, res.Payload, res.LogTail)
	}
}

func TestE2EConcurrentInvokesCreateSandboxes(t *testing.T) {
	d := launchDaemon(t)
	d.createFunction("sleepy", map[string]any{"Handler": "sleep"})
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := d.client.Invoke(context.Background(), client.InvokeRequest{FunctionName: "sleepy", Payload: []byte(`{"ms":1500}`)})
			if err != nil || res.FunctionError != "" {
				errs <- fmt.Sprintf("err %v, function error %q %s", err, res.FunctionError, res.Payload)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := len(d.sandboxCgroups()); got != n {
		t.Errorf("%d concurrent invokes made %d sandboxes, want %d", n, got, n)
	}
}

func TestE2EOOMAndTimeoutAreReportedAndRecovered(t *testing.T) {
	d := launchDaemon(t)
	// At 0.085 CPU, touching pages is slow: give the hog time to reach its limit.
	d.createFunction("hog", map[string]any{"Handler": "alloc", "Timeout": 30})
	res := d.invoke("hog", `{"mb":300}`)
	if res.FunctionError == "" {
		t.Fatalf("allocating 300 MB in 128 MB: no function error, payload %s", res.Payload)
	}
	if !strings.Contains(strings.ToLower(string(res.Payload)), "memory") {
		t.Errorf("OOM error does not name memory: %s", res.Payload)
	}
	res = d.invoke("hog", `{"mb":10}`)
	if res.FunctionError != "" {
		t.Errorf("after OOM the function should recover: %s", res.Payload)
	}

	d.createFunction("slow", map[string]any{"Handler": "sleep", "Timeout": 1})
	res = d.invoke("slow", `{"ms":5000}`)
	if res.FunctionError == "" || !strings.Contains(string(res.Payload), "Task timed out after 1.00 seconds") {
		t.Errorf("timeout: function error %q payload %s", res.FunctionError, res.Payload)
	}
	res = d.invoke("slow", `{"ms":10}`)
	if res.FunctionError != "" {
		t.Errorf("after a timeout the function should recover: %s", res.Payload)
	}
	// The daemon and other functions carry on.
	d.createFunction("after", nil)
	if res := d.invoke("after", `{"ok":true}`); res.FunctionError != "" {
		t.Errorf("other function after faults: %s", res.Payload)
	}
}

func TestE2EBadInput(t *testing.T) {
	d := launchDaemon(t)
	_, err := d.client.Invoke(context.Background(), client.InvokeRequest{FunctionName: "nope", Payload: []byte(`{}`)})
	if ae, ok := err.(*client.APIError); !ok || ae.Status != 404 || ae.Type != "ResourceNotFoundException" {
		t.Errorf("unknown function: %v", err)
	}
	_, err = d.client.CreateFunction(context.Background(), client.CreateFunctionRequest{
		FunctionName: "big", Runtime: "faaslab", Handler: "echo", MemorySize: 99999})
	if ae, ok := err.(*client.APIError); !ok || ae.Status != 400 || !strings.Contains(ae.Message, "MemorySize") {
		t.Errorf("bad memory: %v", err)
	}
	d.createFunction("small", nil)
	_, err = d.client.Invoke(context.Background(), client.InvokeRequest{FunctionName: "small", Payload: bytes.Repeat([]byte("a"), 6*1024*1024+1)})
	if ae, ok := err.(*client.APIError); !ok || ae.Status != 413 {
		t.Errorf("oversize payload: %v", err)
	}
}

// TestE2EAWSLambdaGoFunction runs a function built with github.com/aws/aws-lambda-go,
// unmodified, as a provided.al2023 zip with a bootstrap.
func TestE2EAWSLambdaGoFunction(t *testing.T) {
	d := launchDaemon(t)
	d.createFunction("golambda", map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap",
		"Code": map[string]any{"ZipFile": bootstrapZip(t, awsLambdaGoBinary(t))}})
	res := d.invoke("golambda", `{"name":"faaslab"}`)
	if res.FunctionError != "" {
		t.Fatalf("aws-lambda-go function error: %s\n%s", res.Payload, res.LogTail)
	}
	var out map[string]any
	if err := json.Unmarshal(res.Payload, &out); err != nil || len(out) == 0 {
		t.Fatalf("aws-lambda-go response %s: %v", res.Payload, err)
	}
	t.Logf("aws-lambda-go said %s", res.Payload)
}

// TestE2EAWSCLI drives the daemon with the real aws CLI, as a user would.
func TestE2EAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed (make deps installs awscli)")
	}
	d := launchDaemon(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(aws, append([]string{"--endpoint-url", "http://" + d.endpoint, "--region", "us-east-1", "lambda"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=faaslab", "AWS_SECRET_ACCESS_KEY=faaslab", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws lambda %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "fn.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, _ := zw.CreateHeader(h)
	w.Write([]byte("#!/bin/sh\nexit 1\n"))
	zw.Close()
	os.WriteFile(zipPath, buf.Bytes(), 0o644)
	// A built-in handler function: the CLI's CreateFunction always sends a zip.
	out := run("create-function", "--function-name", "cli", "--runtime", "faaslab", "--handler", "wordcount",
		"--role", "arn:aws:iam::000000000000:role/x", "--memory-size", "256", "--zip-file", "fileb://"+zipPath)
	if !strings.Contains(out, `"MemorySize": 256`) {
		t.Errorf("create-function output: %s", out)
	}
	if out := run("list-functions"); !strings.Contains(out, `"FunctionName": "cli"`) {
		t.Errorf("list-functions: %s", out)
	}
	payload := filepath.Join(dir, "payload.json")
	os.WriteFile(payload, []byte(`{"text":"two words"}`), 0o644)
	result := filepath.Join(dir, "out.json")
	out = run("invoke", "--function-name", "cli", "--payload", "fileb://"+payload, "--log-type", "Tail", result)
	if !strings.Contains(out, `"StatusCode": 200`) || !strings.Contains(out, "LogResult") {
		t.Errorf("invoke output: %s", out)
	}
	got, _ := os.ReadFile(result)
	if !strings.Contains(string(got), `"words":2`) {
		t.Errorf("wordcount via aws CLI: %s", got)
	}
	run("update-function-configuration", "--function-name", "cli", "--memory-size", "512", "--timeout", "10")
	if out := run("get-function-configuration", "--function-name", "cli"); !strings.Contains(out, `"MemorySize": 512`) {
		t.Errorf("after update: %s", out)
	}
	run("delete-function", "--function-name", "cli")
}

// awsLambdaGoBinary is runtime/testdata/awslambdago built static.
func awsLambdaGoBinary(t *testing.T) string {
	return testutil.Binary(t, testutil.Module+"/runtime/testdata/awslambdago")
}
