package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/runtime"
)

// rssKB reads VmRSS of pid.
func rssKB(b *testing.B, pid int) float64 {
	b.Helper()
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkBootstrapEcho: warm no-op invocations through a real faaslab-runtime process
// (echo handler) over loopback; also reports the process's RSS once idle after them.
func BenchmarkBootstrapEcho(b *testing.B) {
	s := startSandbox(b, "echo")
	<-s.ep.Ready()
	ctx := context.Background()
	inv := runtime.Invocation{Payload: []byte(`{}`), Deadline: time.Now().Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ep.Invoke(ctx, inv); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	time.Sleep(idleTrimAfter + 500*time.Millisecond) // past the idle trim
	b.ReportMetric(rssKB(b, s.cmd.Process.Pid), "idle-rss-kB")
}

// BenchmarkBootstrapAllocIdleRSS: RSS of a sandbox that has served one 64 MB alloc
// invocation, once idle again (the handler hands the memory back).
func BenchmarkBootstrapAllocIdleRSS(b *testing.B) {
	s := startSandbox(b, "alloc")
	<-s.ep.Ready()
	for b.Loop() {
		if r := s.invoke(b, `{"mb":64}`); r.FunctionError {
			b.Fatalf("%q", r.Payload)
		}
	}
	b.StopTimer()
	time.Sleep(idleTrimAfter + 500*time.Millisecond) // past the idle trim
	b.ReportMetric(rssKB(b, s.cmd.Process.Pid), "idle-rss-kB")
}
