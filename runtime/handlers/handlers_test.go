package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

func call(t *testing.T, name string, ctx context.Context, payload string) ([]byte, error) {
	t.Helper()
	h, ok := Lookup(name)
	if !ok {
		t.Fatalf("handler %s not registered", name)
	}
	return h(ctx, []byte(payload))
}

func decodeTo[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("response %q: %v", b, err)
	}
	return v
}

func wantInvalid(t *testing.T, err error) {
	t.Helper()
	var typed interface{ ErrorType() string }
	if !errors.Is(err, ErrInvalidPayload) || !errors.As(err, &typed) || typed.ErrorType() != "InvalidPayload" {
		t.Fatalf("err = %v, want ErrInvalidPayload with errorType InvalidPayload", err)
	}
}

func TestRegistry(t *testing.T) {
	want := []string{"alloc", "cpu", "echo", "faasbench-cpu", "faasbench-proxy", "faasbench-sleep", "faasbench-timeout",
		"faasbench-wordcount", "iperf3", "s3get", "s3get-boto3", "s3put", "s3put-boto3", "sandboxinfo", "sleep", "wordcount"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	if _, ok := Lookup("nope"); ok {
		t.Fatal("unknown handler found")
	}
}

func TestEcho(t *testing.T) {
	out, err := call(t, "echo", context.Background(), `{"a":[1,2]}`)
	if err != nil || string(out) != `{"a":[1,2]}` {
		t.Fatalf("echo = %q, %v", out, err)
	}
}

func TestSleep(t *testing.T) {
	start := time.Now()
	out, err := call(t, "sleep", context.Background(), `{"ms": 30}`)
	if err != nil || decodeTo[SleepRequest](t, out).Ms != 30 || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("sleep = %q, %v after %v", out, err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := call(t, "sleep", ctx, `{"ms": 60000}`); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("sleep past the deadline = %v, want ErrInterrupted", err)
	}
	for _, bad := range []string{`{"ms": -1}`, `{"ms": "x"}`, `{"seconds": 1}`, `[1]`, `{"ms": 900001}`} {
		_, err := call(t, "sleep", context.Background(), bad)
		wantInvalid(t, err)
	}
}

func TestCPU(t *testing.T) {
	out, err := call(t, "cpu", context.Background(), `{"ms": 20}`)
	r := decodeTo[CPUResponse](t, out)
	if err != nil || r.Ms != 20 || r.Iterations == 0 || r.ElapsedMs < 20 {
		t.Fatalf("cpu = %+v, %v", r, err)
	}
	out, err = call(t, "cpu", context.Background(), ``)
	if r := decodeTo[CPUResponse](t, out); err != nil || r.Ms != 0 {
		t.Fatalf("cpu with no payload = %q, %v", out, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := call(t, "cpu", ctx, `{"ms": 60000}`); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("cpu past the deadline = %v, want ErrInterrupted", err)
	}
	_, err = call(t, "cpu", context.Background(), `{"ms": -5}`)
	wantInvalid(t, err)
}

func TestAlloc(t *testing.T) {
	out, err := call(t, "alloc", context.Background(), `{"mb": 8}`)
	r := decodeTo[AllocResponse](t, out)
	if err != nil || r.MB != 8 || r.Bytes != 8<<20 || r.Pages < 8<<20/65536 {
		t.Fatalf("alloc = %+v, %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := call(t, "alloc", ctx, `{"mb": 1, "holdMs": 60000}`); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("alloc hold past the deadline = %v, want ErrInterrupted", err)
	}
	for _, bad := range []string{`{"mb": -1}`, `{"mb": 1000000}`, `{"mb": 1, "holdMs": -1}`, `nope`} {
		_, err := call(t, "alloc", context.Background(), bad)
		wantInvalid(t, err)
	}
}

func TestWordCount(t *testing.T) {
	for _, tc := range []struct {
		payload        string
		words, letters int
	}{
		{`{"text": "Hello, world!  foo"}`, 3, 13},
		{`"  one two\tthree\nfour "`, 4, 15},
		{`"héllo wörld 42"`, 3, 10},
		{`{"text": ""}`, 0, 0},
		{`""`, 0, 0},
	} {
		out, err := call(t, "wordcount", context.Background(), tc.payload)
		r := decodeTo[WordCountResponse](t, out)
		if err != nil || r.Words != tc.words || r.Letters != tc.letters {
			t.Errorf("wordcount(%s) = %+v, %v; want %d words %d letters", tc.payload, r, err, tc.words, tc.letters)
		}
	}
	for _, bad := range []string{``, `42`, `{"txt": "a"}`, `{"text": 1}`} {
		_, err := call(t, "wordcount", context.Background(), bad)
		wantInvalid(t, err)
	}
}

func TestSandboxInfoReportsEveryThread(t *testing.T) {
	out, err := SandboxInfo(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var info SandboxInfoResponse
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Threads) == 0 || info.Threads[0].UID == "" || info.Cgroup == "" {
		t.Errorf("sandboxinfo: %s", out)
	}
}
