package ec2_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faaslab/faaslab/internal/daemon"
	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/sandbox"
)

// Where user-data.sh puts things (the paths the unit and the config name).
const (
	installedBin    = "/usr/local/bin/faaslab"
	installedRT     = "/usr/local/bin/faaslab-runtime"
	installedUnit   = "/etc/systemd/system/faaslab.service"
	installedConfig = "/etc/faaslab/faaslab.yaml"
)

// TestUserDataInVM installs faaslab from the release tarball with the tarball's own
// user-data.sh (no packages, no systemd), starts the daemon as the installed unit's
// ExecStart says, invokes a function through the configured listen address, requires
// `faaslab doctor` to find cgroup v2 with the cpu, memory and pids controllers, and checks
// SIGTERM removes every object the daemon made.
func TestUserDataInVM(t *testing.T) {
	if os.Getenv("FAASLAB_VM") != "1" {
		t.Skip("runs only in the throwaway cgroup v2 VM (make test-vm): user-data.sh writes /usr/local/bin and /etc, " +
			"and the unit's daemon uses the default port, prefix, subnet and cgroup, which a shared host must keep")
	}
	tarball := os.Getenv("FAASLAB_RELEASE_TARBALL")
	if tarball == "" {
		t.Skip("FAASLAB_RELEASE_TARBALL unset: deploy/vm/run-tests.sh stages `make release`'s tarball when deploy/ec2 is tested")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash in the VM (FAASLAB_VM_HOST_PROGS must include bash): user-data.sh is a bash script")
	}
	testutil.RequireRoot(t, "user-data.sh installs into /usr/local and /etc; the daemon makes cgroups and namespaces")

	files := readTarball(t, tarball, "./user-data.sh", "./usr/local/bin/faaslab", "./usr/local/bin/faaslab-runtime",
		"./etc/systemd/system/faaslab.service")
	script := filepath.Join(t.TempDir(), "user-data.sh")
	if err := os.WriteFile(script, files["./user-data.sh"], 0o755); err != nil {
		t.Fatal(err)
	}
	// The VM links /usr/local/bin/faaslab* to its prebuilt binaries; install must replace
	// the links with the tarball's files, not write through them.
	for _, p := range []string{installedBin, installedRT} {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			os.Remove(p)
		}
	}

	out := runUserData(t, script, tarball)
	if !strings.Contains(out, "unit is installed") || !strings.Contains(out, "not started") {
		t.Errorf("user-data.sh without systemd should say the unit is installed but not started:\n%s", out)
	}
	for p, want := range map[string][]byte{installedBin: files["./usr/local/bin/faaslab"],
		installedRT: files["./usr/local/bin/faaslab-runtime"], installedUnit: files["./etc/systemd/system/faaslab.service"]} {
		got, err := os.ReadFile(p)
		if fi, lerr := os.Lstat(p); err != nil || lerr != nil || !fi.Mode().IsRegular() || !bytes.Equal(got, want) {
			t.Fatalf("%s is not the tarball's file (read: %v)", p, err)
		}
	}
	if _, err := os.Stat(installedConfig); err != nil {
		t.Fatalf("config not installed: %v", err)
	}

	argv, env := unitCommand(t)
	t.Logf("unit ExecStart: %q (environment %q)", argv, env)
	cfg := effectiveConfig(t, argv, env)
	before := objects(cfg)
	d := startDaemon(t, argv, env, cfg)

	endpoint := "http://" + cfg.Listen
	waitAPI(t, d, endpoint)
	cli(t, "fn", "create", "userdata", "--handler", "echo", "--memory", "128", "--endpoint", endpoint)
	if got := cli(t, "fn", "invoke", "userdata", "--payload", `{"greeting":"from user-data"}`, "--endpoint", endpoint); !strings.Contains(got, "from user-data") {
		t.Errorf("invoke through %s: want the echoed payload, got:\n%s", endpoint, got)
	}
	if cgs, _ := sandbox.ChildCgroups(cfg.CgroupRoot, sandbox.NamePrefix); len(cgs) == 0 {
		t.Errorf("no sandbox cgroup under %s after an invoke", cfg.CgroupRoot)
	}
	checkDoctor(t, cli(t, "doctor"))

	d.stop(t)
	if left := newObjects(before, objects(cfg)); len(left) > 0 {
		t.Errorf("after SIGTERM the daemon left:\n%s", strings.Join(left, "\n"))
	}
}

// readTarball returns the named members of a .tar.gz.
func readTarball(t *testing.T, path string, names ...string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	got := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if want[h.Name] {
			if got[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatalf("%s: %s: %v", path, h.Name, err)
			}
		}
	}
	for _, n := range names {
		if got[n] == nil {
			t.Fatalf("release tarball %s lacks %s", path, n)
		}
	}
	return got
}

// runUserData runs the script as on a host with the dependencies already installed.
func runUserData(t *testing.T, script, tarball string) string {
	t.Helper()
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), "FAASLAB_TARBALL="+tarball, "FAASLAB_SKIP_PACKAGES=1")
	out, err := cmd.CombinedOutput()
	t.Logf("user-data.sh:\n%s", out)
	if err != nil {
		t.Fatalf("user-data.sh FAASLAB_SKIP_PACKAGES=1 FAASLAB_TARBALL=%s: %v", tarball, err)
	}
	return string(out)
}

// unitCommand is the installed unit's ExecStart as argv, with its environment.
func unitCommand(t *testing.T) (argv, env []string) {
	t.Helper()
	b, err := os.ReadFile(installedUnit)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(b))
	if err != nil {
		t.Fatalf("%s: %v", installedUnit, err)
	}
	argv, env, err = u.command()
	if err != nil {
		t.Fatalf("%s: %v", installedUnit, err)
	}
	return argv, env
}

// effectiveConfig is what the unit's command line would run with (--print-config).
func effectiveConfig(t *testing.T, argv, env []string) daemon.Config {
	t.Helper()
	cmd := exec.Command(argv[0], append(argv[1:], "--print-config")...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q --print-config: %v", argv, err)
	}
	var cfg daemon.Config
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("--print-config output: %v\n%s", err, out)
	}
	return cfg
}

type unitDaemon struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startDaemon runs the unit's command; cleanup stops it and removes whatever it left.
func startDaemon(t *testing.T, argv, env []string, cfg daemon.Config) *unitDaemon {
	t.Helper()
	d := &unitDaemon{log: filepath.Join(t.TempDir(), "daemon.log"), done: make(chan error, 1)}
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
		exec.Command(installedBin, "cleanup", "--net-prefix", cfg.Network.Prefix, "--cgroup-parent", cfg.CgroupRoot).Run()
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("daemon log:\n%s", b)
		}
	})
	return d
}

// stop sends SIGTERM, as systemd's KillSignal, and waits (TCG is slow: up to the
// unit's TimeoutStopSec of 90 s).
func (d *unitDaemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("daemon exit after SIGTERM: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("daemon did not stop within 90 s of SIGTERM")
	}
}

// waitAPI polls `faaslab fn list` against the endpoint until it answers (the VM runs
// under software emulation: allow a minute).
func waitAPI(t *testing.T, d *unitDaemon, endpoint string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command(installedBin, "fn", "list", "--endpoint", endpoint).CombinedOutput()
		if err == nil {
			return
		}
		select {
		case err := <-d.done:
			d.done <- err
			b, _ := os.ReadFile(d.log)
			t.Fatalf("daemon exited at start (%v):\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's API at %s did not answer within 60 s: %v\n%s", endpoint, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// cli runs the installed faaslab and returns its output.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(installedBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("faaslab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkDoctor requires the checks that matter on a cgroup v2 host; Docker, KVM and qemu
// are optional there and not required.
func checkDoctor(t *testing.T, out string) {
	t.Helper()
	t.Logf("faaslab doctor:\n%s", out)
	want := []struct{ section, name, detail string }{
		{"cgroups", "version", "v2 (unified)"},
		{"cgroups", "controller cpu", ""},
		{"cgroups", "controller memory", ""},
		{"cgroups", "controller pids", ""},
		{"namespaces", "net", ""},
		{"namespaces", "mnt", ""},
		{"namespaces", "pid", ""},
		{"namespaces", "running as root", ""},
	}
	for _, w := range want {
		ok, detail, found := doctorCheck(out, w.section, w.name)
		switch {
		case !found:
			t.Errorf("doctor: no check %q in section %q", w.name, w.section)
		case !ok:
			t.Errorf("doctor: %s/%s is MISS: %s", w.section, w.name, detail)
		case !strings.Contains(detail, w.detail):
			t.Errorf("doctor: %s/%s = %q, want %q", w.section, w.name, detail, w.detail)
		}
	}
}

// doctorCheck finds "  [ok  ] NAME   detail" (or [MISS]) under "SECTION:" in doctor's output.
func doctorCheck(out, section, name string) (ok bool, detail string, found bool) {
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, " ") && strings.HasSuffix(line, ":") {
			cur = strings.TrimSuffix(line, ":")
			continue
		}
		rest, isCheck := strings.CutPrefix(strings.TrimSpace(line), "[")
		if cur != section || !isCheck || len(rest) < 6 {
			continue
		}
		mark, body := rest[:4], strings.TrimSpace(rest[5:])
		if body == name || strings.HasPrefix(body, name+" ") {
			return mark == "ok  ", strings.TrimSpace(strings.TrimPrefix(body, name)), true
		}
	}
	return false, "", false
}

// objects lists the kernel objects named like the daemon's: links, network namespaces,
// iptables rules with its prefix, and its cgroup parent.
func objects(cfg daemon.Config) map[string]bool {
	set := map[string]bool{}
	for _, dir := range []string{"/sys/class/net", "/run/netns"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), cfg.Network.Prefix) {
				set[dir+"/"+e.Name()] = true
			}
		}
	}
	if out, err := exec.Command("iptables", "-S").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, cfg.Network.Prefix) {
				set["iptables: "+l] = true
			}
		}
	}
	if _, err := os.Stat(filepath.Join(sandbox.CgroupRoot, cfg.CgroupRoot)); err == nil {
		set["cgroup "+cfg.CgroupRoot] = true
	}
	return set
}

// newObjects lists what is in after but not in before (objects of earlier tests that
// share the default prefix's first letters are not the daemon's).
func newObjects(before, after map[string]bool) []string {
	var left []string
	for o := range after {
		if !before[o] {
			left = append(left, o)
		}
	}
	return left
}

// TestDoctorCheckParses: doctorCheck reads probe.Print's format.
func TestDoctorCheckParses(t *testing.T) {
	out := "cgroups:\n  [ok  ] version                      v2 (unified)\n  [MISS] controller net_prio           not available\n" +
		"namespaces:\n  [ok  ] net                          \n  [ok  ] running as root              the daemon needs root\n"
	for _, c := range []struct {
		section, name string
		ok, found     bool
		detail        string
	}{
		{"cgroups", "version", true, true, "v2 (unified)"},
		{"cgroups", "controller net_prio", false, true, "not available"},
		{"cgroups", "controller net", false, false, ""},
		{"namespaces", "net", true, true, ""},
		{"namespaces", "running as root", true, true, "the daemon needs root"},
		{"namespaces", "version", false, false, ""},
	} {
		ok, detail, found := doctorCheck(out, c.section, c.name)
		if ok != c.ok || found != c.found || detail != c.detail {
			t.Errorf("%s/%s = (%v, %q, %v), want (%v, %q, %v)", c.section, c.name, ok, detail, found, c.ok, c.detail, c.found)
		}
	}
}
