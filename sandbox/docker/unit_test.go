package docker

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/deploy/image"
)

// These tests need neither root nor an engine.

func TestParseLdd(t *testing.T) {
	out := `	linux-vdso.so.1 (0x00007ffd)
	libiperf.so.0 => /lib/x86_64-linux-gnu/libiperf.so.0 (0x00007f9b)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f9a)
	libmissing.so => not found
	/lib64/ld-linux-x86-64.so.2 (0x00007f9c)
`
	want := []string{"/lib/x86_64-linux-gnu/libiperf.so.0", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if got := parseLdd(out); !reflect.DeepEqual(got, want) {
		t.Errorf("parseLdd = %q, want %q", got, want)
	}
}

func TestContextLayout(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "faaslab-runtime")
	if err := os.WriteFile(bin, []byte("\x7fELF fake"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := contextFiles(BuildOptions{RuntimeBinary: bin})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeContext(&buf, files); err != nil {
		t.Fatal(err)
	}
	entries := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		entries[h.Name], contents[h.Name] = h, string(b)
	}
	if contents["Dockerfile"] != string(image.Dockerfile) {
		t.Error("context Dockerfile differs from deploy/image/Dockerfile")
	}
	rt := "rootfs" + image.RuntimePath
	if h := entries[rt]; h == nil || h.Mode != 0o755 || contents[rt] != "\x7fELF fake" {
		t.Errorf("runtime entry %+v", h)
	}
	if h := entries["rootfs"+image.BootstrapPath]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "faaslab-runtime" {
		t.Errorf("bootstrap entry %+v, want symlink to faaslab-runtime", h)
	}
	if h := entries["rootfs/tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp entry %+v, want mode 1777", h)
	}
	if !strings.Contains(contents["rootfs/etc/passwd"], "faaslab:x:1000:1000:") {
		t.Errorf("passwd %q lacks the faaslab user", contents["rootfs/etc/passwd"])
	}
	// Every entry's parent directory comes first.
	for name := range entries {
		dir := filepath.Dir(strings.TrimSuffix(name, "/"))
		if dir != "." && entries[dir+"/"] == nil {
			t.Errorf("%s has no parent directory entry", name)
		}
	}
}

func TestCheckStatic(t *testing.T) {
	dynamic := dynamicExecutable()
	if dynamic == "" {
		t.Skip("no dynamically linked executable on this host to check against (a busybox VM)")
	}
	if err := checkStatic(dynamic); !errors.Is(err, ErrNotStatic) {
		t.Errorf("checkStatic(%s) = %v, want ErrNotStatic", dynamic, err)
	}
	if err := checkStatic(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("checkStatic of a missing file succeeded")
	}
}

// dynamicExecutable finds an executable with an ELF interpreter (dynamically linked).
func dynamicExecutable() string {
	for _, p := range []string{"/bin/sh", "/usr/bin/iperf3", "/usr/sbin/iptables", "/bin/ls"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		dyn := false
		for _, prog := range f.Progs {
			dyn = dyn || prog.Type == elf.PT_INTERP
		}
		f.Close()
		if dyn {
			return p
		}
	}
	return ""
}

func TestReadBuildOutput(t *testing.T) {
	ok := `{"stream":"Step 1/5 : FROM scratch\n"}
{"aux":{"ID":"sha256:abc"}}
{"stream":"Successfully built abc\n"}
`
	var progress bytes.Buffer
	id, err := readBuildOutput(strings.NewReader(ok), &progress)
	if err != nil || id != "sha256:abc" || !strings.Contains(progress.String(), "FROM scratch") {
		t.Errorf("readBuildOutput = %q, %v (progress %q)", id, err, progress.String())
	}
	bad := `{"stream":"Step 2/5 : COPY rootfs/ /\n"}
{"errorDetail":{"message":"no such file"},"error":"no such file"}
`
	if _, err := readBuildOutput(strings.NewReader(bad), nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("build error not reported: %v", err)
	}
}

func TestGateCmdline(t *testing.T) {
	if got := string(cmdline([]string{"/var/runtime/faaslab-runtime", "gate", "--", "/x", "a b"})); got != "/var/runtime/faaslab-runtime\x00gate\x00--\x00/x\x00a b\x00" {
		t.Errorf("cmdline = %q", got)
	}
	// This very process: not a zombie, and Go catches SIGUSR1 from the start.
	if zombie(os.Getpid()) {
		t.Error("zombie(self) = true")
	}
	if !sigCaught(os.Getpid(), sigusr1Bit) {
		t.Error("SigCgt of a Go process lacks SIGUSR1")
	}
}

func TestHasPrefixedName(t *testing.T) {
	if !hasPrefixedName([]string{"/faaslab-fn-1"}) || hasPrefixedName([]string{"/web", "/other"}) {
		t.Error("hasPrefixedName")
	}
}

// Under Docker's systemd cgroup driver the parent must be a slice: the daemon's path
// parents (/faaslab-docker, /faaslabx-docker) become theirs (they were refused, so
// --backend docker could not start on a cgroup v2 systemd host).
func TestSliceName(t *testing.T) {
	for in, want := range map[string]string{
		"/faaslab-docker": "faaslab-docker.slice", "/faaslabx-docker": "faaslabx-docker.slice",
		"/a/b": "a-b.slice", "faaslab.slice": "faaslab.slice",
	} {
		if got := SliceName(in); got != want {
			t.Errorf("SliceName(%q) = %q, want %q", in, got, want)
		}
	}
}
