package scheduler_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/scheduler"
)

type zipEntry struct {
	name string
	mode os.FileMode
	body string
}

func makeZip(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCustomRuntimeZip(t *testing.T) {
	e := newEnv(t, nil)
	data := makeZip(t, zipEntry{"bootstrap", 0o755, "#!/bin/sh\n"}, zipEntry{"lib/data.txt", 0o600, "x"},
		zipEntry{"lib/link", os.ModeSymlink | 0o777, "data.txt"})
	f, err := e.s.CreateFunction(context.Background(), scheduler.CreateFunctionInput{Name: "z", Runtime: "provided.al2023",
		Code: scheduler.Code{ZipFile: data}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if f.CodeSha256 != base64.StdEncoding.EncodeToString(sum[:]) || f.CodeSize != int64(len(data)) {
		t.Errorf("CodeSha256 %s CodeSize %d", f.CodeSha256, f.CodeSize)
	}
	st, err := os.Stat(filepath.Join(f.CodeDir, "lib", "data.txt"))
	if err != nil || st.Mode().Perm()&0o444 != 0o444 {
		t.Errorf("unzipped file must be world-readable for the sandbox uid: %v %v", st.Mode(), err)
	}
	if target, err := os.Readlink(filepath.Join(f.CodeDir, "lib", "link")); err != nil || target != "data.txt" {
		t.Errorf("symlink: %q %v", target, err)
	}
	res := e.invoke("z", "{}")
	spec := e.fake.Get(res.Record.SandboxID).Spec
	if strings.Join(spec.Command, " ") != "/var/task/bootstrap" || len(spec.Mounts) != 1 ||
		spec.Mounts[0] != (struct {
			Source, Target string
			ReadOnly       bool
		}{f.CodeDir, "/var/task", true}) {
		t.Errorf("custom runtime spec: command %v mounts %+v", spec.Command, spec.Mounts)
	}
}

func TestBadZipsAreRejected(t *testing.T) {
	e := newEnv(t, nil)
	outside := filepath.Join(e.cfg.StateDir, "evil")
	cases := map[string][]byte{
		"not executable": makeZip(t, zipEntry{"bootstrap", 0o644, "x"}),
		"no bootstrap":   makeZip(t, zipEntry{"main", 0o755, "x"}),
		"zip-slip":       makeZip(t, zipEntry{"bootstrap", 0o755, "x"}, zipEntry{"../../evil", 0o644, "x"}),
		"absolute":       makeZip(t, zipEntry{"bootstrap", 0o755, "x"}, zipEntry{"/tmp/evil", 0o644, "x"}),
		"link out":       makeZip(t, zipEntry{"bootstrap", 0o755, "x"}, zipEntry{"l", os.ModeSymlink | 0o777, "../../../etc"}),
		"link abs":       makeZip(t, zipEntry{"bootstrap", 0o755, "x"}, zipEntry{"l", os.ModeSymlink | 0o777, "/etc"}),
		"link in link": makeZip(t, zipEntry{"bootstrap", 0o755, "x"}, zipEntry{"d", os.ModeSymlink | 0o777, "."},
			zipEntry{"d/e", os.ModeSymlink | 0o777, ".."}),
		"bootstrap link out": makeZip(t, zipEntry{"bootstrap", os.ModeSymlink | 0o777, "../../../../bin/sh"}),
		"garbage":            []byte("this is not a zip"),
	}
	for name, data := range cases {
		_, err := e.s.CreateFunction(context.Background(), scheduler.CreateFunctionInput{Name: "bad",
			Runtime: "provided", Code: scheduler.Code{ZipFile: data}})
		var pe *scheduler.ParamError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Field, "Code") {
			t.Errorf("%s: %v, want a Code.ZipFile parameter error", name, err)
		}
		if _, err := e.s.GetFunction("bad"); !errors.Is(err, scheduler.ErrFunctionNotFound) {
			t.Errorf("%s: rejected function was registered", name)
		}
	}
	if _, err := os.Lstat(outside); err == nil {
		t.Errorf("zip-slip wrote %s", outside)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.cfg.StateDir, "functions")); len(entries) != 0 {
		t.Errorf("rejected functions left files: %v", entries)
	}
}

func TestUpdateFunctionCode(t *testing.T) {
	e := newEnv(t, nil)
	v1 := makeZip(t, zipEntry{"bootstrap", 0o755, "v1"})
	f1, err := e.s.CreateFunction(context.Background(), scheduler.CreateFunctionInput{Name: "c", Runtime: "provided.al2",
		Code: scheduler.Code{ZipFile: v1}})
	if err != nil {
		t.Fatal(err)
	}
	first := e.invoke("c", "{}")
	v2 := makeZip(t, zipEntry{"bootstrap", 0o755, "v2"})
	f2, err := e.s.UpdateFunctionCode(context.Background(), "c", scheduler.Code{ZipFile: v2})
	if err != nil {
		t.Fatal(err)
	}
	if f2.CodeSha256 == f1.CodeSha256 || f2.CodeDir == f1.CodeDir || f2.RevisionID == f1.RevisionID {
		t.Errorf("code update did not change the package: %+v", f2)
	}
	if b, _ := os.ReadFile(filepath.Join(f2.CodeDir, "bootstrap")); string(b) != "v2" {
		t.Errorf("new bootstrap holds %q", b)
	}
	second := e.invoke("c", "{}")
	if second.Record.Start != scheduler.StartCold || second.Record.SandboxID == first.Record.SandboxID {
		t.Errorf("after a code update the next invocation must cold-start on the new code")
	}
	if _, err := e.s.UpdateFunctionCode(context.Background(), "c", scheduler.Code{ZipFile: makeZip(t, zipEntry{"x", 0o644, ""})}); !errors.Is(err, scheduler.ErrInvalidParameter) {
		t.Errorf("update to a zip without bootstrap: %v", err)
	}
}
