package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/sandbox"
)

// dockerImage builds the runtime image (with iperf3) under a tag of this test run and
// removes it at cleanup; it skips when no Docker Engine answers.
func dockerImage(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		t.Skip("no Docker Engine answers (make docker-up starts one)")
	}
	bin := binary(t, "FAASLAB_BIN", "github.com/faaslab/faaslab/cmd/faaslab")
	rt := binary(t, "FAASLAB_RUNTIME_BIN", "github.com/faaslab/faaslab/cmd/faaslab-runtime")
	tag := "faaslab-runtime:e2e-" + testutil.RandomHex(6)
	out, err := exec.Command(bin, "image", "build", "--with-iperf3", "--tag", tag, "--runtime-bin", rt).CombinedOutput()
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", tag).Run() })
	return tag
}

// dockerSandboxCgroups lists the container cgroups (named by container id) under the
// daemon's docker parent.
func (d *testDaemon) dockerSandboxCgroups() []string {
	return childCgroups(d.cgroup+"-docker", "")
}

func TestE2EDockerBackend(t *testing.T) {
	tag := dockerImage(t)
	d := launchDaemon(t, "--backend", "docker", "--docker-image", tag)
	d.createFunction("hello", nil)
	res := d.invoke("hello", `{"from":"docker"}`)
	if res.FunctionError != "" || !strings.Contains(string(res.Payload), `"docker"`) {
		t.Fatalf("echo on docker: %q %s\n%s", res.FunctionError, res.Payload, res.LogTail)
	}
	if !strings.Contains(res.LogTail, "Init Duration") {
		t.Errorf("cold REPORT lacks Init Duration:\n%s", res.LogTail)
	}
	cgs := d.dockerSandboxCgroups()
	if len(cgs) != 1 {
		t.Fatalf("want one container cgroup, got %v", cgs)
	}
	quota, period, err := sandbox.ReadCPUQuota(cgs[0])
	if err != nil || quota != 8500 || period != 100000 {
		t.Errorf("container cgroup quota %d/%d (%v), want 8500/100000", quota, period, err)
	}
	// A function that is a container image runs the image's own command (here the
	// runtime image's CMD, the bootstrap, with the built-in handler named by Handler).
	d.createFunction("img", map[string]any{"PackageType": "Image", "Runtime": "", "Code": map[string]any{"ImageUri": tag}})
	if res := d.invoke("img", `{"from":"image"}`); res.FunctionError != "" || !strings.Contains(string(res.Payload), `"image"`) {
		t.Errorf("Image function on docker: %q %s\n%s", res.FunctionError, res.Payload, res.LogTail)
	}
	// The same through the CLI, as the README shows it.
	bin := binary(t, "FAASLAB_BIN", "github.com/faaslab/faaslab/cmd/faaslab")
	if out, err := exec.Command(bin, "fn", "create", "img-cli", "--image", tag, "--endpoint", "http://"+d.endpoint).CombinedOutput(); err != nil {
		t.Errorf("faaslab fn create --image: %v\n%s", err, out)
	} else if res := d.invoke("img-cli", `{"from":"cli"}`); !strings.Contains(string(res.Payload), `"cli"`) {
		t.Errorf("Image function created by the CLI: %q %s", res.FunctionError, res.Payload)
	}
	d.createFunction("slow", map[string]any{"Handler": "sleep", "Timeout": 1})
	if res := d.invoke("slow", `{"ms":3000}`); !strings.Contains(string(res.Payload), "Task timed out after 1.00 seconds") {
		t.Errorf("timeout on docker: %s", res.Payload)
	}
	d.stop()
	if left := d.leftovers(); len(left) > 0 {
		t.Errorf("left after stop: %v", left)
	}
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=faaslab="+d.prefix).Output()
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("containers left after stop: %s", out)
	}
}

// TestE2EShapingOnDocker: the same shaping check as on native sandboxes.
func TestE2EShapingOnDocker(t *testing.T) {
	tag := dockerImage(t)
	testShaping(t, "--backend", "docker", "--docker-image", tag)
}
