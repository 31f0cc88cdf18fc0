package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/services/dataset"
	"github.com/faaslab/faaslab/runtime/handlers"
)

// hasBoto3 reports whether the host's python3 (which native sandboxes see) has boto3.
func hasBoto3() bool {
	return exec.Command("/usr/bin/python3", "-c", "import boto3").Run() == nil
}

func (d *testDaemon) s3Function(name, handler string, memoryMB int) {
	d.createFunction(name, map[string]any{"Handler": handler, "MemorySize": memoryMB, "Timeout": 120})
}

// s3Invoke runs an S3 workload and decodes its answer; a function error fails the test.
func (d *testDaemon) s3Invoke(name string, req handlers.S3Request) handlers.S3Response {
	d.t.Helper()
	b, _ := json.Marshal(req)
	res := d.invoke(name, string(b))
	var out handlers.S3Response
	if res.FunctionError != "" || json.Unmarshal(res.Payload, &out) != nil {
		d.t.Fatalf("%s %s: function error %s: %s", name, req.Key, res.FunctionError, res.Payload)
	}
	return out
}

// s3Error invokes and returns the function error document.
func (d *testDaemon) s3Error(name string, req handlers.S3Request) (errorType, msg string) {
	d.t.Helper()
	b, _ := json.Marshal(req)
	res := d.invoke(name, string(b))
	var doc struct{ ErrorType, ErrorMessage string }
	if res.FunctionError == "" || json.Unmarshal(res.Payload, &doc) != nil {
		d.t.Fatalf("%s %s: want a function error, got %s", name, req.Key, res.Payload)
	}
	return doc.ErrorType, doc.ErrorMessage
}

// hostS3 is an aws-sdk-go-v2 client in the test process (host netns, which reaches the
// remote address over the bridge) with the daemon's CA.
func (d *testDaemon) hostS3(t *testing.T, endpoint, access, secret string) *s3.Client {
	t.Helper()
	ca, err := os.Open(filepath.Join(d.stateDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCustomCABundle(ca),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(access, secret, "")))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true; o.BaseEndpoint = aws.String(endpoint) })
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// TestE2EObjectStore: real clients (aws-sdk-go-v2 and boto3) in real sandboxes GET and
// PUT 10 MB and 100 MB objects over HTTPS through the emulated NIC; bytes and records
// match the manifest, stored puts match their content's checksum; S3 errors surface
// with S3's codes; the store is restarted when it dies.
func TestE2EObjectStore(t *testing.T) {
	skipHeavy(t, "GB of S3 traffic over both client stacks")
	d := launchDaemon(t)
	ctx := context.Background()
	st, err := d.client.Services(ctx)
	if err != nil || !st.S3.Process.Running || !strings.HasPrefix(st.S3.Endpoint, "https://") {
		t.Fatalf("services: %+v %v", st, err)
	}
	sets := map[string]client.DataSet{}
	for _, set := range []string{"10mb", "100mb"} {
		sm, err := d.client.EnsureDataSet(ctx, set, 1)
		if err != nil || len(sm.Objects) != 1 {
			t.Fatalf("data %s: %+v %v", set, sm, err)
		}
		sets[set] = sm
		// In place: the bucket's file is the cache's file, and it is what the manifest says.
		obj := sm.Objects[0]
		placed := filepath.Join(d.stateDir, "s3", dataset.DefaultBucket, obj.Key)
		if got := fileSHA256(t, placed); got != obj.SHA256 {
			t.Fatalf("%s: sha256 %s, manifest %s", placed, got, obj.SHA256)
		}
	}
	getters, putters := []string{"s3get"}, []string{"s3put"}
	if hasBoto3() {
		getters, putters = append(getters, "s3get-boto3"), append(putters, "s3put-boto3")
	} else {
		t.Log("python3-boto3 not installed: boto3 workloads skipped (make deps installs it)")
	}
	for _, h := range append(getters, putters...) {
		d.s3Function(h, h, 1024)
	}
	for _, h := range getters {
		for _, set := range []string{"10mb", "100mb"} {
			obj := sets[set].Objects[0]
			out := d.s3Invoke(h, handlers.S3Request{Bucket: dataset.DefaultBucket, Key: obj.Key})
			if out.Bytes != obj.Bytes || out.Records != obj.Records || out.Words == 0 || out.SandboxID == "" || out.HostID != d.cgroup {
				t.Errorf("%s %s: %+v, manifest %+v", h, obj.Key, out, obj)
			}
			t.Logf("%s %s: %.1f MB/s, cpu %.2f s", h, obj.Key, out.MBPerSec, out.CPUSeconds)
		}
	}
	for _, h := range putters {
		for _, size := range []int64{10 * dataset.MB, 100 * dataset.MB} {
			key := fmt.Sprintf("out/%s-%d.txt", h, size)
			out := d.s3Invoke(h, handlers.S3Request{Bucket: dataset.DefaultBucket, Key: key, Bytes: size})
			stored := filepath.Join(d.stateDir, "s3", dataset.DefaultBucket, key)
			want := expectedPutSHA256(size)
			if got := fileSHA256(t, stored); got != want || out.Bytes != size || out.Records == 0 {
				t.Errorf("%s %s: stored sha256 %s want %s; %+v", h, key, got, want, out)
			}
			t.Logf("%s %s: %.1f MB/s, cpu %.2f s", h, key, out.MBPerSec, out.CPUSeconds)
		}
	}
	for _, h := range getters {
		if typ, msg := d.s3Error(h, handlers.S3Request{Bucket: dataset.DefaultBucket, Key: "missing/key"}); typ != "NoSuchKey" {
			t.Errorf("%s missing key: %s %s", h, typ, msg)
		}
		if typ, msg := d.s3Error(h, handlers.S3Request{Bucket: "no-such-bucket", Key: "k"}); typ != "NoSuchBucket" || !strings.Contains(msg, `"no-such-bucket"`) {
			t.Errorf("%s missing bucket: %s %s", h, typ, msg)
		}
	}
	// Wrong credentials: 403 from the store (client in the test process).
	_, err = d.hostS3(t, st.S3.Endpoint, "faaslab", "wrong-secret").GetObject(ctx,
		&s3.GetObjectInput{Bucket: aws.String(dataset.DefaultBucket), Key: aws.String(sets["10mb"].Objects[0].Key)})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Errorf("wrong secret: want HTTP 403, got %v", err)
	}
	// The store dies: it is restarted and reported, and workloads go on.
	syscall.Kill(st.S3.Process.PID, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st2, _ := d.client.Services(ctx)
		if st2.S3.Process != nil && st2.S3.Process.Running && st2.S3.Process.Failures == 1 && st2.S3.Process.PID != st.S3.Process.PID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store not restarted: %+v", st2.S3.Process)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the new process binds its port
	d.s3Invoke("s3get", handlers.S3Request{Bucket: dataset.DefaultBucket, Key: sets["10mb"].Objects[0].Key})
}

// expectedPutSHA256 is the checksum of what s3put sends: the 1 MB text block repeated.
func expectedPutSHA256(size int64) string {
	var block bytes.Buffer
	dataset.Generate(&block, dataset.MB, 1)
	h := sha256.New()
	for n := int64(0); n < size; n += int64(block.Len()) {
		h.Write(block.Bytes()[:min(int64(block.Len()), size-n)])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestE2EObjectStoreMemoryAndShaping: a 1 GB GET keeps the store's peak RSS under
// 100 MB, and a live `fixed 80mbit` policy caps s3get at 80 Mbit/s ± 5 %.
func TestE2EObjectStoreMemoryAndShaping(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: moves 1 GB")
	}
	d := launchDaemon(t, "--nic", "unlimited")
	ctx := context.Background()
	st, err := d.client.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse 1 GB object: no disk used, the store streams it like any file.
	big := filepath.Join(d.stateDir, "s3", "big", "1gb.bin")
	os.MkdirAll(filepath.Dir(big), 0o755)
	if err := os.WriteFile(big, nil, 0o644); err != nil || os.Truncate(big, 1_000_000_000) != nil {
		t.Fatal(err)
	}
	d.s3Function("get", "s3get", 3008)
	out := d.s3Invoke("get", handlers.S3Request{Bucket: "big", Key: "1gb.bin"})
	if out.Bytes != 1_000_000_000 {
		t.Fatalf("1 GB GET: %+v", out)
	}
	hwm := vmHWMKB(t, st.S3.Process.PID)
	t.Logf("1 GB GET at %.0f MB/s; store peak RSS (VmHWM) %d kB", out.MBPerSec, hwm)
	if hwm >= 100*1024 {
		t.Errorf("store peak RSS %d kB during a 1 GB GET, want < 100 MB", hwm)
	}

	if _, err := d.client.SetPolicy(ctx, client.PolicyDocument{Policy: "fixed", FixedRate: "80mbit"}); err != nil {
		t.Fatal(err)
	}
	sm, err := d.client.EnsureDataSet(ctx, "50mb", 1)
	if err != nil {
		t.Fatal(err)
	}
	got := d.s3Invoke("get", handlers.S3Request{Bucket: dataset.DefaultBucket, Key: sm.Objects[0].Key})
	// The policy limits bytes on the wire; the handler counts payload. A full segment
	// carries 1448 payload bytes in 1514 wire bytes (Ethernet 14 + IP 20 + TCP with
	// timestamps 32), so 80 Mbit/s on the wire is 76.5 Mbit/s of object data.
	const wireEfficiency = 1448.0 / 1514.0
	bits := float64(got.Bytes) * 8 / got.Seconds
	want := 80e6 * wireEfficiency
	t.Logf("fixed 80mbit: s3get of 50 MB at %.2f Mbit/s of payload = %.2f Mbit/s on the wire (ratio to policy %.3f)",
		bits/1e6, bits/wireEfficiency/1e6, bits/want)
	if r := bits / want; r < 0.95 || r > 1.05 {
		t.Errorf("s3get under fixed 80mbit: %.2f Mbit/s of payload, want %.1f (80 on the wire) ± 5 %%", bits/1e6, want/1e6)
	}
}

func vmHWMKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestE2EFig4FirstLook: s3get and s3get-boto3 of 10 MB objects at the paper's six memory
// sizes (CPU ∝ memory). Logged, not asserted beyond the shape's direction: the paper
// reports 9.5 MB/s at 128 MB and "128 → 256 MB halves the time".
func TestE2EFig4FirstLook(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a minute of transfers")
	}
	d := launchDaemon(t)
	ctx := context.Background()
	sm, err := d.client.EnsureDataSet(ctx, "10mb", 4)
	if err != nil {
		t.Fatal(err)
	}
	hs := []string{"s3get"}
	if hasBoto3() {
		hs = append(hs, "s3get-boto3")
	}
	for _, h := range hs {
		rate := map[int]float64{}
		for _, memMB := range []int{128, 256, 512, 1024, 2048, 3008} {
			name := fmt.Sprintf("%s-%d", h, memMB)
			d.s3Function(name, h, memMB)
			var mbps, throttled, periods []float64
			for i, obj := range sm.Objects {
				out := d.s3Invoke(name, handlers.S3Request{Bucket: dataset.DefaultBucket, Key: obj.Key})
				if i == 0 {
					continue // cold: the first invocation warms the client
				}
				mbps = append(mbps, out.MBPerSec)
				throttled = append(throttled, float64(out.ThrottledPeriods))
				periods = append(periods, float64(out.NrPeriods))
			}
			rate[memMB] = median(mbps)
			share := 0.0
			if p := sum(periods); p > 0 {
				share = sum(throttled) / p
			}
			t.Logf("Fig4 %-12s %4d MB: %6.1f MB/s (median of %d warm), throttled share %.2f", h, memMB, rate[memMB], len(mbps), share)
			d.client.DeleteFunction(ctx, name) // frees its memory for the next size
		}
		t.Logf("Fig4 %s: 256/128 MB rate ratio %.2f (paper: ~2, time halves); paper at 128 MB: 9.5 MB/s", h, rate[256]/rate[128])
		if rate[3008] <= rate[128] {
			t.Errorf("%s: rate at 3008 MB (%.1f) not above 128 MB (%.1f): the CPU quota should limit small functions", h, rate[3008], rate[128])
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}
