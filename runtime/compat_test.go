package runtime

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/internal/testutil"
)

// startRuntime runs bin as a sandbox's runtime would be run, against f's server.
func startRuntime(t *testing.T, f *fixture, bin string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(Environment(EnvConfig{
		RuntimeAPI:   f.addr,
		FunctionName: "compat-fn",
		MemoryMB:     128,
		Handler:      "bootstrap",
		SandboxID:    f.id,
	}), env...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("runtime output:\n%s", logs.String())
		}
	})
	select {
	case <-f.ep.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("runtime never asked for an invocation")
	}
	return cmd
}

func TestAWSLambdaGoCompat(t *testing.T) {
	bin := testutil.Binary(t, testutil.Module+"/runtime/testdata/awslambdago")
	f := newFixture(t)
	startRuntime(t, f, bin)

	arn := "arn:aws:lambda:us-east-1:000000000000:function:compat-fn"
	r := invoke(t, f.ep, Invocation{
		RequestID:   "11111111-2222-3333-4444-555555555555",
		Payload:     []byte(`{"name":"faaslab"}`),
		Deadline:    time.Now().Add(time.Minute),
		FunctionARN: arn,
	})
	var got struct {
		Greeting, RequestID, FunctionARN, Function string
		HasDeadline                                bool
	}
	if err := json.Unmarshal(r.Payload, &got); err != nil || r.FunctionError {
		t.Fatalf("response %q (function error %v): %v", r.Payload, r.FunctionError, err)
	}
	if got.Greeting != "hello faaslab" || got.RequestID != "11111111-2222-3333-4444-555555555555" ||
		got.FunctionARN != arn || !got.HasDeadline || got.Function != "compat-fn" {
		t.Fatalf("response %+v", got)
	}

	r = invoke(t, f.ep, Invocation{Payload: []byte(`{"fail":true}`)})
	var doc ErrorDocument
	if !r.FunctionError || json.Unmarshal(r.Payload, &doc) != nil ||
		doc.ErrorMessage != "asked to fail" || doc.ErrorType != "errorString" || r.ErrorType != "errorString" {
		t.Fatalf("function error = %+v %q", r, r.Payload)
	}

	// A payload the handler cannot decode is a function error too, and the runtime lives on.
	r = invoke(t, f.ep, Invocation{Payload: []byte(`[1,2]`)})
	if !r.FunctionError {
		t.Fatalf("bad event = %+v %q, want a function error", r, r.Payload)
	}
	r = invoke(t, f.ep, Invocation{Payload: []byte(`{"name":"again"}`)})
	if r.FunctionError || !strings.Contains(string(r.Payload), "hello again") {
		t.Fatalf("after errors: %q", r.Payload)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
