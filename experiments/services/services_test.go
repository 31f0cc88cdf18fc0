package services

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"io"
	"log/slog"

	"github.com/faaslab/faaslab/internal/metricstest"
	"github.com/prometheus/client_golang/prometheus"
)

func TestEnsureTLSKeepsCAAndReissuesForNewAddress(t *testing.T) {
	dir := t.TempDir()
	a, err := EnsureTLS(dir, netip.MustParseAddr("10.201.255.254"))
	if err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(a.CA)
	leaf1, _ := os.ReadFile(a.Cert)
	b, err := EnsureTLS(dir, netip.MustParseAddr("10.202.0.254"))
	if err != nil {
		t.Fatal(err)
	}
	ca2, _ := os.ReadFile(b.CA)
	leaf2, _ := os.ReadFile(b.Cert)
	if string(ca1) != string(ca2) || string(leaf1) == string(leaf2) {
		t.Fatal("want the same CA and a new leaf for a new address")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca2)
	blk, _ := pem.Decode(leaf2)
	leaf, _ := x509.ParseCertificate(blk.Bytes)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool}); err != nil || leaf.IPAddresses[0].String() != "10.202.0.254" {
		t.Fatalf("leaf does not verify against the CA for its IP: %v %v", err, leaf.IPAddresses)
	}
}

func TestStoreConfigValidateNamesField(t *testing.T) {
	for _, c := range []struct {
		cfg  StoreConfig
		want string
	}{
		{StoreConfig{Mode: "cloud"}, "services.s3.mode"},
		{StoreConfig{Mode: StoreEmbedded, Port: 0, AccessKey: "a", SecretKey: "b"}, "services.s3.port"},
		{StoreConfig{Mode: StoreExternal, Endpoint: "s3.local"}, "services.s3.endpoint"},
		{StoreConfig{Mode: StoreEmbedded, Port: 9000}, "access_key"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want mention of %s", c.cfg, err, c.want)
		}
	}
	if err := DefaultStoreConfig().Validate(); err != nil {
		t.Error(err)
	}
}

func TestValidBucket(t *testing.T) {
	for _, ok := range []string{"faaslab-data", "abc", "a.b-c"} {
		if ValidBucket(ok) != nil {
			t.Errorf("%s rejected", ok)
		}
	}
	for _, bad := range []string{"", "ab", "../etc", "a/b", "Upper", "-ab", "a..b"} {
		if ValidBucket(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStoreEnvIsLambdaLike(t *testing.T) {
	s := &Store{cfg: DefaultStoreConfig(), endpoint: "https://10.0.0.254:9000", caFile: "/x/ca.pem"}
	env := s.Env()
	if env["AWS_ACCESS_KEY_ID"] != DefaultAccessKey || env["AWS_ENDPOINT_URL_S3"] != s.endpoint ||
		env["AWS_CA_BUNDLE"] != CABundlePath || env["AWS_SESSION_TOKEN"] != "" {
		t.Fatalf("env %v", env)
	}
	if (&Store{cfg: StoreConfig{Mode: StoreOff}}).Env() != nil {
		t.Fatal("store off must add nothing")
	}
}

// A supervised process that dies is restarted and counted; stop ends it.
func TestProcessRestartsAfterFailure(t *testing.T) {
	p := newProcess("s3", func() *exec.Cmd { return exec.Command("sh", "-c", "sleep 30") }, false,
		slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(nil))
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	pid := waitPID(t, p, 0)
	syscallKill(pid)
	pid2 := waitPID(t, p, pid)
	if st := p.Status(); st.Failures != 1 || st.Starts != 2 || pid2 == pid {
		t.Fatalf("status %+v", st)
	}
	p.stop()
	if st := p.Status(); st.Running {
		t.Fatalf("still running after stop: %+v", st)
	}
}

func waitPID(t *testing.T, p *process, not int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st := p.Status(); st.Running && st.PID != not {
			return st.PID
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("process not (re)started")
	return 0
}

func syscallKill(pid int) { proc, _ := os.FindProcess(pid); proc.Kill() }

// localRunner runs "remote" commands on this host.
type localRunner struct{}

func (localRunner) RemoteCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}
func (localRunner) RemoteAddr() netip.Addr         { return netip.MustParseAddr("127.0.0.1") }
func (localRunner) DoRemote(fn func() error) error { return fn() }

// A server that never says it listens is not kept: the next Ensure tries it again (and
// fails again) instead of handing out its port as ready.
func TestIperfEnsureDropsServerThatNeverListens(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "iperf3")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := NewIperfPool(localRunner{}, 5200, 4, slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(nil))
	p.bin, p.readyTimeout = bin, 50*time.Millisecond
	defer p.Close()
	if _, ports, err := p.Ensure(1); err == nil {
		t.Fatalf("first Ensure(1) = %v, want a readiness error", ports)
	}
	if st := p.Status(); len(st.Servers) != 0 {
		t.Errorf("pool keeps a server that never started: %+v", st)
	}
	if _, ports, err := p.Ensure(1); err == nil {
		t.Fatalf("second Ensure(1) = %v, want a readiness error", ports)
	}
}

// TestStartedServiceHasFailureSeries: a service that started exports its failures at 0
// before the first one, so rates, alerts and the dashboard have a series to read.
func TestStartedServiceHasFailureSeries(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p := newProcess("s3", func() *exec.Cmd { return exec.Command("sh", "-c", "sleep 30") }, false,
		slog.New(slog.DiscardHandler), NewMetrics(reg))
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if v := metricstest.ValueOr(t, reg, "faaslab_service_failures_total", prometheus.Labels{"service": "s3"}, -1); v != 0 {
		t.Errorf("faaslab_service_failures_total{service=s3} = %v after a clean start, want a series at 0", v)
	}
}
