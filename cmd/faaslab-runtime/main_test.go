package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/runtime"
)

// bootstrapBinary is $FAASLAB_RUNTIME_BIN (make test builds it) or a fresh static build.
func bootstrapBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FAASLAB_RUNTIME_BIN"); p != "" {
		return p
	}
	return testutil.Binary(t, testutil.Module+"/cmd/faaslab-runtime")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBuilt()
	os.Exit(code)
}

type sandbox struct {
	ep   *runtime.Endpoint
	cmd  *exec.Cmd
	logs *strings.Builder
	exit chan error
}

// startSandbox runs the bootstrap with _HANDLER=handler against a fresh Runtime API server
// on loopback.
func startSandbox(t testing.TB, handler string) *sandbox {
	t.Helper()
	bin := bootstrapBinary(t)
	srv := runtime.NewServer(nil)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := "faaslabt" + hex.EncodeToString(b)
	ep := srv.Register(id, netip.MustParseAddr("127.0.0.1"))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Unregister(id) })

	s := &sandbox{ep: ep, logs: &strings.Builder{}, exit: make(chan error, 1)}
	s.cmd = exec.Command(bin)
	s.cmd.Env = runtime.Environment(runtime.EnvConfig{
		RuntimeAPI:   strings.TrimPrefix(ts.URL, "http://"),
		FunctionName: "fn-" + handler,
		MemoryMB:     256,
		Handler:      handler,
		SandboxID:    id,
	})
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exit <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exit
		if t.Failed() {
			t.Logf("bootstrap output:\n%s", s.logs.String())
		}
	})
	return s
}

func (s *sandbox) invoke(t testing.TB, payload string) runtime.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := s.ep.Invoke(ctx, runtime.Invocation{Payload: []byte(payload), Deadline: time.Now().Add(15 * time.Second)})
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	return r
}

func TestBuiltinHandlers(t *testing.T) {
	for _, tc := range []struct {
		handler, payload, want string
	}{
		{"echo", `{"x":1}`, `{"x":1}`},
		{"sleep", `{"ms":5}`, `{"ms":5}`},
		{"cpu", `{"ms":5}`, `"iterations":`},
		{"alloc", `{"mb":4}`, `{"mb":4,"bytes":4194304,`},
		{"wordcount", `{"text":"two words"}`, `{"words":2,"letters":8}`},
	} {
		t.Run(tc.handler, func(t *testing.T) {
			t.Parallel()
			s := startSandbox(t, tc.handler)
			r := s.invoke(t, tc.payload)
			if r.FunctionError || !strings.Contains(string(r.Payload), tc.want) {
				t.Fatalf("%s(%s) = %q (function error %v), want it to contain %s", tc.handler, tc.payload, r.Payload, r.FunctionError, tc.want)
			}
			// A bad payload is a function error; the sandbox keeps serving.
			if tc.handler != "echo" {
				r = s.invoke(t, `{"bogus":`)
				var doc runtime.ErrorDocument
				if !r.FunctionError || json.Unmarshal(r.Payload, &doc) != nil || doc.ErrorType != "InvalidPayload" || r.ErrorType != "InvalidPayload" {
					t.Fatalf("bad payload = %+v %q", r, r.Payload)
				}
				if r = s.invoke(t, tc.payload); r.FunctionError {
					t.Fatalf("after a function error: %q", r.Payload)
				}
			}
		})
	}
}

func TestUnknownHandlerReportsInitError(t *testing.T) {
	s := startSandbox(t, "no-such-handler")
	select {
	case r := <-s.ep.InitError():
		var doc runtime.ErrorDocument
		if json.Unmarshal(r.Payload, &doc) != nil || doc.ErrorType != "Runtime.HandlerNotFound" ||
			!strings.Contains(doc.ErrorMessage, "no-such-handler") || !strings.Contains(doc.ErrorMessage, "wordcount") {
			t.Fatalf("init error %q", r.Payload)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no init error")
	}
	select {
	case err := <-s.exit:
		if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != exitFailure {
			t.Fatalf("exit = %v, want status %d", err, exitFailure)
		}
		s.exit <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("bootstrap did not exit after an init error")
	}
}

func TestBootstrapExitsWhenUnregistered(t *testing.T) {
	srv := runtime.NewServer(nil)
	ep := srv.Register("faaslabt-gone", netip.MustParseAddr("127.0.0.1"))
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	cmd := exec.Command(bootstrapBinary(t))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(ts.URL, "http://"), "_HANDLER=echo"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exit := make(chan error, 1)
	go func() { exit <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	<-ep.Ready()
	srv.Unregister("faaslabt-gone")
	select {
	case err := <-exit:
		if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != exitFailure {
			t.Fatalf("exit = %v, want status %d", err, exitFailure)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bootstrap kept running after its sandbox was unregistered")
	}
}

// gateReady reports whether the gate at pid has announced that it handles SIGUSR1.
func gateReady(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return err == nil && strings.TrimSpace(string(b)) == runtime.GateReadyComm
}

func startGate(t *testing.T, args ...string) (*exec.Cmd, *strings.Builder, chan error) {
	t.Helper()
	cmd := exec.Command(bootstrapBinary(t), append([]string{"gate"}, args...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exit := make(chan error, 1)
	go func() { exit <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	for !gateReady(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("gate never announced readiness")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cmd, &out, exit
}

func waitExit(t *testing.T, exit chan error) int {
	t.Helper()
	select {
	case err := <-exit:
		if err == nil {
			return 0
		}
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit")
	}
	return -1
}

func TestGateExecsOnSIGUSR1(t *testing.T) {
	cmd, out, exit := startGate(t, "--", "sh", "-c", `echo "released $$ $GATE_VAR"`)
	select {
	case err := <-exit:
		t.Fatalf("gate exited before the signal: %v\n%s", err, out)
	case <-time.After(50 * time.Millisecond):
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, exit); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	// exec keeps the pid: the command replaced the gate rather than running as its child.
	if want := "released " + strconv.Itoa(cmd.Process.Pid); !strings.HasPrefix(out.String(), want) {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
}

func TestGateTerminated(t *testing.T) {
	cmd, out, exit := startGate(t, "--", "sh", "-c", "echo should-not-run")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, exit); code != 128+int(syscall.SIGTERM) || strings.Contains(out.String(), "should-not-run") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestGateBadCommand(t *testing.T) {
	bin := bootstrapBinary(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"gate"}, exitUsage},
		{[]string{"gate", "--"}, exitUsage},
		{[]string{"gate", "--", "/nonexistent/faaslab-cmd"}, exitNotFound},
		{[]string{"bogus"}, exitUsage},
	} {
		err := exec.Command(bin, tc.args...).Run()
		ee, ok := errors.AsType[*exec.ExitError](err)
		if !ok || ee.ExitCode() != tc.code {
			t.Errorf("%q: %v, want exit %d", tc.args, err, tc.code)
		}
	}
}

func TestTuneMemory(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	prev := debugSetMemoryLimit(-1)
	defer debugSetMemoryLimit(prev)
	tuneMemory("128")
	if got := debugSetMemoryLimit(-1); got != 128<<20*9/10 {
		t.Fatalf("memory limit %d, want %d", got, 128<<20*9/10)
	}
	tuneMemory("garbage") // ignored
	if got := debugSetMemoryLimit(-1); got != 128<<20*9/10 {
		t.Fatalf("memory limit changed to %d by a bad value", got)
	}
}

func TestTrimWhenIdlePassesThrough(t *testing.T) {
	h := trimWhenIdle(func(_ context.Context, p []byte) ([]byte, error) {
		if string(p) == "fail" {
			return nil, errors.New("failed")
		}
		return append([]byte("got "), p...), nil
	}, time.Millisecond)
	out, err := h(context.Background(), []byte("x"))
	if err != nil || string(out) != "got x" {
		t.Fatalf("= %q, %v", out, err)
	}
	if _, err := h(context.Background(), []byte("fail")); err == nil {
		t.Fatal("error swallowed")
	}
	time.Sleep(5 * time.Millisecond) // let the idle trim run; it must not disturb later calls
	if out, _ := h(context.Background(), []byte("y")); string(out) != "got y" {
		t.Fatalf("after trim: %q", out)
	}
}
