package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/internal/testutil"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dimage "github.com/docker/docker/api/types/image"

	"github.com/faaslab/faaslab/deploy/image"
	"github.com/faaslab/faaslab/sandbox"
	"github.com/faaslab/faaslab/sandbox/sandboxtest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, b *Backend, spec sandbox.Spec) *Sandbox {
	t.Helper()
	sb, err := b.Create(ctxT(t), spec)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = sb.Stop(context.Background()) })
	return sb.(*Sandbox)
}

func waitDone(t *testing.T, sb sandbox.Sandbox) {
	t.Helper()
	select {
	case <-sb.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("sandbox did not exit within 30s")
	}
}

// procStatus returns the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// mountOptions returns the per-mount options of the mount at target in PID's mount ns.
func mountOptions(t *testing.T, pid int, target string) (opts, fstype, superOpts string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 || f[4] != target {
			continue
		}
		// The last mount at a target is the visible one.
		opts, fstype, superOpts, found = f[5], g[0], g[2], true
	}
	if !found {
		t.Fatalf("no mount at %s in pid %d", target, pid)
	}
	return opts, fstype, superOpts
}

func hasOpt(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

func TestAPIVersionNegotiated(t *testing.T) {
	requireEngine(t)
	ctx := ctxT(t)
	cli, err := NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		t.Fatalf("server version with the negotiated API %s: %v", cli.ClientVersion(), err)
	}
	// The client speaks the engine's version when the engine is older (1.41 on Debian 12).
	if cli.ClientVersion() != v.APIVersion && versionLess(v.APIVersion, cli.ClientVersion()) {
		t.Errorf("client API %s, engine API %s: negotiation did not downgrade", cli.ClientVersion(), v.APIVersion)
	}
	t.Logf("engine %s speaks API %s; client uses %s", v.Version, v.APIVersion, cli.ClientVersion())
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// TestHeldContainerIsHardened checks a held sandbox from the host side: labels, non-root,
// no capabilities, no_new_privs, read-only root, sized /tmp, its own empty netns, and the
// resource model's limits in its cgroup.
func TestHeldContainerIsHardened(t *testing.T) {
	b := newTestBackend(t)
	spec := testSpec(t, image.RuntimePath)
	spec.TmpBytes = 64 << 20
	sb := create(t, b, spec)
	ctx := ctxT(t)

	info, err := b.cli.ContainerInspect(ctx, sb.ContainerID())
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{LabelScope: b.cfg.Scope, LabelSandbox: spec.ID, LabelFunction: "test"}
	for k, v := range wantLabels {
		if info.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, info.Config.Labels[k], v)
		}
	}
	if info.Name != "/"+spec.ID {
		t.Errorf("container name %q, want /%s", info.Name, spec.ID)
	}
	// The engine learns the quota in the background (see applyCPUQuota).
	for i := 0; i < 100 && info.HostConfig.CPUQuota == 0; i++ {
		time.Sleep(50 * time.Millisecond)
		if info, err = b.cli.ContainerInspect(ctx, sb.ContainerID()); err != nil {
			t.Fatal(err)
		}
	}
	if hc := info.HostConfig; hc.NanoCPUs != 0 || hc.CPUQuota != 8500 || hc.CPUPeriod != 100000 || hc.Memory != 128<<20 || hc.MemorySwap != 128<<20 {
		t.Errorf("host config: nano %d quota %d period %d memory %d swap %d", hc.NanoCPUs, hc.CPUQuota, hc.CPUPeriod, hc.Memory, hc.MemorySwap)
	}

	st := procStatus(t, sb.PID())
	uid := strings.Fields(st["Uid"])
	if n, _ := strconv.Atoi(uid[0]); len(uid) < 2 || n < sandbox.DefaultUIDBase || uid[1] != uid[0] || strings.Fields(st["Gid"])[0] != uid[0] {
		t.Errorf("Uid %q Gid %q, want one uid = gid from %d on", st["Uid"], st["Gid"], sandbox.DefaultUIDBase)
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if st[k] != "0000000000000000" {
			t.Errorf("%s = %s, want no capabilities", k, st[k])
		}
	}
	if st["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %q, want 1", st["NoNewPrivs"])
	}

	if opts, _, _ := mountOptions(t, sb.PID(), "/"); !hasOpt(opts, "ro") {
		t.Errorf("root mounted %q, want ro", opts)
	}
	if opts, fstype, super := mountOptions(t, sb.PID(), "/tmp"); b.tmp != nil && (fstype != "ext4" || !hasOpt(opts, "nosuid") || !hasOpt(opts, "nodev")) {
		t.Errorf("/tmp is %s %s (%s), want the ext4 image, nosuid, nodev", fstype, super, opts)
	} else if b.tmp == nil && (fstype != "tmpfs" || !strings.Contains(super, "size=65536k")) {
		t.Errorf("/tmp is %s %s, want tmpfs size=65536k", fstype, super)
	} else if !hasOpt(opts, "rw") {
		t.Errorf("/tmp mounted %q, want rw", opts)
	}

	hostNS, _ := os.Readlink("/proc/self/ns/net")
	ns, err := os.Readlink(sb.NetNSPath())
	if err != nil || ns == hostNS {
		t.Errorf("netns %q (err %v) must exist and differ from the host's %q", ns, err, hostNS)
	}

	if !strings.HasPrefix(sb.CgroupPath(), b.cfg.CgroupParent+"/") || !strings.HasSuffix(sb.CgroupPath(), sb.ContainerID()) {
		t.Errorf("cgroup path %q, want %s/<container id>", sb.CgroupPath(), b.cfg.CgroupParent)
	}
	quota, period := readCPUQuota(t, sb.CgroupPath())
	if quota != 8500 || period != 100000 {
		t.Errorf("cgroup cpu quota %d/%d, want 8500/100000 (128 MB on c3.large)", quota, period)
	}
	if got := readMemoryLimit(t, sb.CgroupPath()); got != 128<<20 {
		t.Errorf("cgroup memory limit %d, want %d", got, 128<<20)
	}
	// The parent is capped at the profile: 2 vCPU, 3840 MiB.
	if quota, period := readCPUQuota(t, b.cfg.CgroupParent); quota != 200000 || period != 100000 {
		t.Errorf("parent cgroup quota %d/%d, want 200000/100000", quota, period)
	}

	if err := sb.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.cli.ContainerInspect(ctx, sb.ContainerID()); err == nil {
		t.Error("container still exists after Stop")
	}
	if err := sb.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func readCPUQuota(t *testing.T, cg string) (quota int64, period uint64) {
	t.Helper()
	quota, period, err := sandbox.ReadCPUQuota(cg)
	if err != nil {
		t.Fatal(err)
	}
	return quota, period
}

func readMemoryLimit(t *testing.T, cg string) int64 {
	t.Helper()
	v, err := sandbox.ReadMemoryLimit(cg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStartRunsCommandWithLogs: the gate holds the bootstrap until Start; the bootstrap,
// run without a Runtime API, complains on stderr and exits 2.
func TestStartRunsCommandWithLogs(t *testing.T) {
	b := newTestBackend(t)
	var log sandboxtest.LogBuffer
	spec := testSpec(t, image.BootstrapPath)
	spec.Log = &log
	sb := create(t, b, spec)
	select {
	case <-sb.Done():
		t.Fatalf("sandbox exited before Start: %v; log %q", sb.ExitError(), log.String())
	case <-time.After(200 * time.Millisecond):
	}
	if sb.ExitError() != nil {
		t.Errorf("ExitError before exit: %v", sb.ExitError())
	}
	if err := sb.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitDone(t, sb)
	err := sb.ExitError()
	if !errors.Is(err, sandbox.ErrStopped) || !strings.Contains(fmt.Sprint(err), "status 2") {
		t.Errorf("ExitError = %v, want exit status 2 wrapping ErrStopped", err)
	}
	if !strings.Contains(log.String(), "AWS_LAMBDA_RUNTIME_API") {
		t.Errorf("log %q lacks the bootstrap's complaint about AWS_LAMBDA_RUNTIME_API", log.String())
	}
	if err := sb.Start(ctxT(t)); !errors.Is(err, sandbox.ErrStopped) {
		t.Errorf("Start after exit = %v, want ErrStopped", err)
	}
}

// TestIperf3InImage runs the image's iperf3 (host binary + libraries) as the non-root user.
func TestIperf3InImage(t *testing.T) {
	b := newTestBackend(t)
	if _, err := os.Stat("/usr/bin/iperf3"); err != nil {
		t.Skip("host has no /usr/bin/iperf3, so the test image has none (apt-get install iperf3)")
	}
	var log sandboxtest.LogBuffer
	spec := testSpec(t, "/usr/bin/iperf3", "--version")
	spec.Log = &log
	sb := create(t, b, spec)
	if err := sb.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitDone(t, sb)
	if err := sb.ExitError(); err != nil {
		t.Fatalf("iperf3 --version: %v; log %q", err, log.String())
	}
	if !strings.Contains(log.String(), "iperf 3") {
		t.Errorf("iperf3 --version printed %q", log.String())
	}
}

// TestRunningStatsAndStop: a long-running command (the gate waiting for a second gate
// release) shows memory in Stats; Stop kills it and Done closes.
func TestRunningStatsAndStop(t *testing.T) {
	b := newTestBackend(t)
	// The released gate execs a second gate, which waits: a process that runs until killed.
	sb := create(t, b, testSpec(t, image.RuntimePath, "gate", "--", image.BootstrapPath))
	if err := sb.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	st, err := sb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryUsageBytes == 0 || st.MemoryPeakBytes < st.MemoryUsageBytes || st.CPUUsageNs == 0 {
		t.Errorf("stats of a running sandbox: %+v", st)
	}
	if err := sb.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sb.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if after, err := sb.Stats(); err != nil || after.MemoryPeakBytes < st.MemoryPeakBytes {
		t.Errorf("stats after Stop = %+v, %v; want the last peak ≥ %d", after, err, st.MemoryPeakBytes)
	}
}

// TestMountOnScratchImage: a bind mount whose target does not exist in the FROM-scratch,
// read-only root is created by the runtime, read-only when asked.
func TestMountOnScratchImage(t *testing.T) {
	b := newTestBackend(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, image.BootstrapPath)
	spec.Mounts = []sandbox.Mount{{Source: dir, Target: "/opt/faaslabt-mnt", ReadOnly: true}}
	sb := create(t, b, spec)
	if opts, _, _ := mountOptions(t, sb.PID(), "/opt/faaslabt-mnt"); !hasOpt(opts, "ro") {
		t.Errorf("bind mount options %q, want ro", opts)
	}
	got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/opt/faaslabt-mnt/hello", sb.PID()))
	if err != nil || string(got) != "hi" {
		t.Errorf("file through the mount: %q, %v", got, err)
	}
}

// TestReapIsScoped: Reap removes the containers of its own scope and no other.
func TestReapIsScoped(t *testing.T) {
	b1, b2 := newTestBackend(t), newTestBackend(t)
	s1 := create(t, b1, testSpec(t, image.BootstrapPath))
	s2 := create(t, b2, testSpec(t, image.BootstrapPath))
	ctx := ctxT(t)
	if err := b1.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b1.cli.ContainerInspect(ctx, s1.ContainerID()); err == nil {
		t.Error("Reap left its own scope's container")
	}
	if _, err := b2.cli.ContainerInspect(ctx, s2.ContainerID()); err != nil {
		t.Errorf("Reap of scope %s removed scope %s's container: %v", b1.cfg.Scope, b2.cfg.Scope, err)
	}
	waitDone(t, s1)
	list, err := b1.cli.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", LabelScope+"="+b1.cfg.Scope))})
	if err != nil || len(list) != 0 {
		t.Errorf("after Reap: %d containers of scope %s, %v", len(list), b1.cfg.Scope, err)
	}
}

func TestCreateRejectsBadSpec(t *testing.T) {
	b := newTestBackend(t)
	spec := testSpec(t, image.BootstrapPath)
	spec.ID = "notfaaslab"
	if _, err := b.Create(ctxT(t), spec); err == nil {
		t.Error("Create accepted an id without the faaslab prefix")
	}
	spec = testSpec(t, image.BootstrapPath)
	spec.Image = "faaslabt-no-such-image:" + testutil.RandomHex(6)
	if _, err := b.Create(ctxT(t), spec); err == nil || !strings.Contains(err.Error(), "faaslab image build") {
		t.Errorf("Create with a missing image = %v, want a hint to build it", err)
	}
	if _, err := b.cli.ContainerInspect(ctxT(t), spec.ID); err == nil {
		t.Error("failed Create left a container behind")
	}
}

// TestCloseRemovesParentCgroup: Close stops the backend's sandboxes and leaves no parent
// cgroup in any hierarchy.
func TestCloseRemovesParentCgroup(t *testing.T) {
	b := newTestBackend(t)
	sb := create(t, b, testSpec(t, image.BootstrapPath))
	if err := b.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sb.Done():
	default:
		t.Error("sandbox still running after Close")
	}
	left, _ := filepath.Glob(filepath.Join(sandbox.CgroupRoot, "*", b.cfg.CgroupParent))
	if b.cgroupV2 {
		left, _ = filepath.Glob(filepath.Join(sandbox.CgroupRoot, b.cfg.CgroupParent))
	}
	if len(left) != 0 {
		t.Errorf("parent cgroup left after Close: %v", left)
	}
}

func leftContainers(t *testing.T, b *Backend) []string {
	t.Helper()
	list, err := b.cli.ContainerList(ctxT(t), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", LabelScope+"="+b.cfg.Scope))})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Names...)
	}
	return names
}

// TestDerivedImage: a user image built FROM the runtime image, named in the spec, runs
// under the gate with its own files.
func TestDerivedImage(t *testing.T) {
	b := newTestBackend(t)
	ctx := ctxT(t)
	tag := "faaslabt-derived:" + testutil.RandomHex(6)
	files := []ctxFile{
		{name: "Dockerfile", data: []byte("FROM " + b.cfg.Image + "\nCOPY handler.txt /var/task/handler.txt\n"), mode: 0o644},
		{name: "handler.txt", data: []byte("derived"), mode: 0o644},
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, files)) }()
	resp, err := b.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = readBuildOutput(resp.Body, nil)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("build derived image: %v", err)
	}
	t.Cleanup(func() {
		_, _ = b.cli.ImageRemove(context.Background(), tag, dimage.RemoveOptions{Force: true, PruneChildren: true})
	})
	spec := testSpec(t, image.BootstrapPath)
	spec.Image = tag
	sb := create(t, b, spec)
	got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/var/task/handler.txt", sb.PID()))
	if err != nil || string(got) != "derived" {
		t.Errorf("derived image file: %q, %v", got, err)
	}
	if info, err := b.cli.ContainerInspect(ctx, sb.ContainerID()); err != nil || info.Config.Image != tag {
		t.Errorf("container image %v, want %s", err, tag)
	}
	// A function of PackageType Image gives no command: the image's own CMD (here the
	// runtime image's bootstrap, inherited) runs under the gate.
	own := testSpec(t, image.BootstrapPath)
	own.Image, own.Command = tag, nil
	sbOwn := create(t, b, own)
	info, err := b.cli.ContainerInspect(ctx, sbOwn.ContainerID())
	if err != nil || !slices.Equal(info.Config.Cmd, []string{"gate", "--", image.BootstrapPath}) {
		t.Errorf("container command %v (%v), want the gate running the image's CMD %s", info.Config.Cmd, err, image.BootstrapPath)
	}
}
