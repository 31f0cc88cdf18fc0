package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/faaslab/faaslab/internal/testutil"

	dimage "github.com/docker/docker/api/types/image"

	"github.com/faaslab/faaslab/sandbox"
)

// The tests share one image, built once per run under a unique tag and removed at the end.
var (
	testImageOnce sync.Once
	testImageTag  string
	testImageErr  error
	testImageSkip string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testImageTag != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if cli, err := NewClient(ctx); err == nil {
			_, _ = cli.ImageRemove(ctx, testImageTag, dimage.RemoveOptions{Force: true, PruneChildren: true})
			cli.Close()
		}
		cancel()
	}
	testutil.RemoveBuilt()
	os.Exit(code)
}

// requireEngine skips unless the test runs as root with a Docker Engine answering.
func requireEngine(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("docker backend tests need root (cgroup files, /proc of container processes)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, err := NewClient(ctx)
	if errors.Is(err, ErrNoEngine) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cli.Close()
}

// testImage builds the runtime image (with iperf3 when the host has it) once per run.
func testImage(t testing.TB) string {
	t.Helper()
	requireEngine(t)
	testImageOnce.Do(func() {
		bin := os.Getenv("FAASLAB_RUNTIME_BIN")
		if bin == "" {
			bin = testutil.Binary(t, testutil.Module+"/cmd/faaslab-runtime")
		}
		_, iperfErr := exec.LookPath("iperf3")
		tag := "faaslabt-runtime:" + testutil.RandomHex(8)
		var progress bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := BuildImage(ctx, BuildOptions{Tag: tag, RuntimeBinary: bin, WithIperf3: iperfErr == nil, Progress: &progress}); err != nil {
			testImageErr = fmt.Errorf("%v\n%s", err, progress.String())
			return
		}
		testImageTag = tag
	})
	if testImageSkip != "" {
		t.Skip(testImageSkip)
	}
	if testImageErr != nil {
		t.Fatalf("build test image: %v", testImageErr)
	}
	return testImageTag
}

// newTestBackend makes a backend scoped to this test (own label value, own cgroup parent)
// whose containers and parent cgroup are removed in Cleanup even when the test fails.
func newTestBackend(t testing.TB) *Backend {
	t.Helper()
	img := testImage(t)
	scope := "faaslabt" + testutil.RandomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := New(ctx, Config{
		BackendConfig: sandbox.BackendConfig{CgroupParent: "/" + scope},
		Image:         img,
		Profile:       sandbox.DefaultHostProfile(),
		Scope:         scope,
	})
	if err != nil {
		t.Fatalf("new docker backend: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Reap(ctx); err != nil {
			t.Errorf("reap: %v", err)
		}
		if err := b.Close(ctx); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	return b
}

// testSpec is a 128 MB sandbox on c3.large running argv.
func testSpec(t testing.TB, argv ...string) sandbox.Spec {
	t.Helper()
	res, err := sandbox.DefaultHostProfile().ResourcesFor(sandbox.CPUModelPaper, 128)
	if err != nil {
		t.Fatal(err)
	}
	return sandbox.Spec{ID: "faaslabt-" + testutil.RandomHex(10), Function: "test", Resources: res, Command: argv}
}
