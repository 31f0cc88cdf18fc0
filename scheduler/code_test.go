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
	entries, _ := os.ReadDir(filepath.Dir(f2.CodeDir))
	for _, en := range entries {
		if rev := strings.TrimSuffix(en.Name(), ".zip"); rev != filepath.Base(f1.CodeDir) && rev != filepath.Base(f2.CodeDir) {
			t.Errorf("a refused code update left its revision %s", en.Name())
		}
	}
}

// UpdateFunctionConfiguration enforces what CreateFunction does, on the whole resulting
// configuration, with the same messages.
func TestUpdateConfigurationValidatesLikeCreate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.create("v", 128, 3)
	// A custom-runtime function (no handler) and a built-in one carrying a zip without bootstrap.
	if _, err := e.s.CreateFunction(ctx, scheduler.CreateFunctionInput{Name: "custom", Runtime: "provided.al2023",
		Code: scheduler.Code{ZipFile: makeZip(t, zipEntry{"bootstrap", 0o755, "#!/bin/sh\n"})}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateFunction(ctx, scheduler.CreateFunctionInput{Name: "builtin", Runtime: "faaslab", Handler: "echo",
		Code: scheduler.Code{ZipFile: makeZip(t, zipEntry{"main.py", 0o644, "x"})}}); err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	longHandler, longDesc := strings.Repeat("h", 129), strings.Repeat("d", 257)
	for _, c := range []struct {
		what, name string
		u          scheduler.ConfigUpdate
		field      string
		create     scheduler.CreateFunctionInput // the create refused the same way ("" Name: none)
	}{
		{"handler over 128", "v", scheduler.ConfigUpdate{Handler: &longHandler}, "Handler",
			scheduler.CreateFunctionInput{Name: "n1", Runtime: "faaslab", Handler: longHandler}},
		{"description over 256", "v", scheduler.ConfigUpdate{Description: &longDesc}, "Description",
			scheduler.CreateFunctionInput{Name: "n2", Runtime: "faaslab", Handler: "echo", Description: longDesc}},
		{"empty handler", "v", scheduler.ConfigUpdate{Handler: ptr("")}, "Handler",
			scheduler.CreateFunctionInput{Name: "n3", Runtime: "faaslab"}},
		{"to faaslab without handler", "custom", scheduler.ConfigUpdate{Runtime: ptr("faaslab")}, "Handler",
			scheduler.CreateFunctionInput{Name: "n4", Runtime: "faaslab"}},
		{"to provided without bootstrap", "builtin", scheduler.ConfigUpdate{Runtime: ptr("provided.al2")}, "Code.ZipFile",
			scheduler.CreateFunctionInput{Name: "n5", Runtime: "provided.al2", Code: scheduler.Code{ZipFile: makeZip(t, zipEntry{"main.py", 0o644, "x"})}}},
	} {
		before, _ := e.s.GetFunction(c.name)
		_, err := e.s.UpdateFunctionConfiguration(ctx, c.name, c.u)
		var pe *scheduler.ParamError
		if !errors.As(err, &pe) || pe.Field != c.field || !errors.Is(err, scheduler.ErrInvalidParameter) {
			t.Errorf("%s: update %v, want a %s parameter error", c.what, err, c.field)
			continue
		}
		_, cerr := e.s.CreateFunction(ctx, c.create)
		if cerr == nil || cerr.Error() != err.Error() {
			t.Errorf("%s: update says %q, create says %v", c.what, err, cerr)
		}
		if after, _ := e.s.GetFunction(c.name); after.RevisionID != before.RevisionID {
			t.Errorf("%s: a refused update changed the function", c.what)
		}
	}
	res := e.invoke("custom", "{}")
	if res.FunctionError || res.Record.Outcome != scheduler.OutcomeSuccess {
		t.Errorf("custom function after refused updates: %s %s", res.Record.Outcome, res.Payload)
	}
}
