package s3gw_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/services"
	"github.com/faaslab/faaslab/experiments/services/s3gw"
)

// serve runs the gateway in this process (posix.New changes the working directory, so
// the test moves into a temporary one first, t.Chdir restoring it) with every path
// relative, as `faaslab daemon --state-dir results/.daemon-state` gives them, and waits
// until it answers HTTPS.
func serve(t *testing.T) {
	t.Helper()
	t.Chdir(t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tlsFiles, err := services.EnsureTLS("tls", netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	o := s3gw.Options{Root: "s3", Listen: addr, AccessKey: "faaslab", SecretKey: "faaslab-secret-key",
		Region: "us-east-1", CertFile: tlsFiles.Cert, KeyFile: tlsFiles.Key, IAMDir: "s3-iam"}
	ctx, cancel := context.WithCancel(context.Background())
	var serveErr error
	done := make(chan struct{})
	go func() { serveErr = s3gw.Serve(ctx, o); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for range 100 {
		select {
		case <-done:
			t.Fatalf("the gateway stopped at start: %v", serveErr)
		default:
		}
		if resp, err := c.Get("https://" + addr + "/"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the gateway did not answer HTTPS on %s", addr)
}

// TestServeWithRelativePaths: relative root, certificate and IAM directory still serve
// HTTPS, and the IAM directory lands beside the root, not inside it as a bucket.
func TestServeWithRelativePaths(t *testing.T) {
	serve(t)
	wd, _ := os.Getwd() // the root, where posix.New moved
	if filepath.Base(wd) != "s3" {
		t.Fatalf("working directory %s: want the gateway's root", wd)
	}
	if _, err := os.Stat(filepath.Join(wd, "..", "s3-iam")); err != nil {
		t.Errorf("IAM directory beside the root: %v", err)
	}
	if entries, _ := os.ReadDir(wd); len(entries) > 0 && entries[0].Name() != ".vgwlocks" {
		t.Errorf("the root holds %q: a relative path was resolved under it", entries[0].Name())
	}
}

// TestIdleGatewayDoesNotSpin: an idle gateway burns (almost) no CPU. A zero IAM cache
// prune interval once made versitygw's pruner loop on time.After(0), a whole core taken
// from the host the gateway stands outside of.
func TestIdleGatewayDoesNotSpin(t *testing.T) {
	serve(t)
	before := cpuTime(t)
	time.Sleep(time.Second)
	if used := cpuTime(t) - before; used > 300*time.Millisecond {
		t.Errorf("idle gateway used %v of CPU in 1 s: something spins", used)
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
