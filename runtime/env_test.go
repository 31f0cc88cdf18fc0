package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("entry %q is not KEY=value", kv)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("%s set twice in %q", k, env)
		}
		m[k] = v
	}
	return m
}

func TestEnvironment(t *testing.T) {
	env := Environment(EnvConfig{
		RuntimeAPI:   "10.200.0.1:9001",
		FunctionName: "fn",
		MemoryMB:     128,
		Handler:      "echo",
		SandboxID:    "faaslab-fn-1",
		Started:      time.Date(2025, 3, 4, 23, 0, 0, 0, time.FixedZone("x", -3600*5)),
		User: map[string]string{
			"AWS_REGION": "eu-west-1",    // reserved: dropped
			"TZ":         "Europe/Paris", // overridable: how functions change their time zone
			"_HANDLER":   "evil",
			"PATH":       "/custom/bin", // overridable
			"B_VAR":      "b",
			"A_VAR":      "a=1",
		},
	})
	got := envMap(t, env)
	want := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          "10.200.0.1:9001",
		"AWS_LAMBDA_FUNCTION_NAME":        "fn",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"_HANDLER":                        "echo",
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_EXECUTION_ENV":               DefaultExecutionEnv,
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME":      "2025/03/05/[$LATEST]faaslab-fn-1",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"TZ":                              "Europe/Paris",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/custom/bin",
		"LD_LIBRARY_PATH":                 DefaultLDLibraryPath,
		"A_VAR":                           "a=1",
		"B_VAR":                           "b",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d variables, want %d: %q", len(got), len(want), env)
	}
	// User variables come last, in key order, so the environment is reproducible.
	if i, j := slices.Index(env, "A_VAR=a=1"), slices.Index(env, "B_VAR=b"); i < 0 || j != i+1 || j != len(env)-1 {
		t.Errorf("user variables out of order: %q", env)
	}
}

func TestReservedEnv(t *testing.T) {
	for _, k := range []string{"AWS_REGION", "_HANDLER", "AWS_LAMBDA_RUNTIME_API", "AWS_SESSION_TOKEN"} {
		if !ReservedEnv(k) {
			t.Errorf("%s not reserved", k)
		}
	}
	for _, k := range []string{"TZ", "PATH", "LANG", "LD_LIBRARY_PATH", "MY_VAR"} {
		if ReservedEnv(k) {
			t.Errorf("%s reserved", k)
		}
	}
}

// FindBinary: $FAASLAB_RUNTIME_BIN first, then (nothing next to the test binary) PATH.
// The daemon's default once skipped PATH, unlike the image builder.
func TestFindBinary(t *testing.T) {
	t.Setenv("FAASLAB_RUNTIME_BIN", "/opt/x/faaslab-runtime")
	if p, err := FindBinary(); err != nil || p != "/opt/x/faaslab-runtime" {
		t.Errorf("with FAASLAB_RUNTIME_BIN: %q, %v", p, err)
	}
	t.Setenv("FAASLAB_RUNTIME_BIN", "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, BinaryName), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if p, err := FindBinary(); err != nil || p != filepath.Join(dir, BinaryName) {
		t.Errorf("on PATH: %q, %v; want %s", p, err, filepath.Join(dir, BinaryName))
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindBinary(); err == nil {
		t.Error("found a binary where there is none")
	}
}
