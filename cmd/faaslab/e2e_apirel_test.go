package main

// End-to-end checks of the daemon's API listener under bad clients and large uploads.

import (
	"archive/zip"
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestE2EUnknownRouteAndHugeBody: the daemon's listener answers unknown routes and
// wrong methods with Lambda's JSON UnknownOperationException, and a CreateFunction that
// declares a body of 10^12 bytes (and sends none) with 413 at once.
func TestE2EUnknownRouteAndHugeBody(t *testing.T) {
	d := launchDaemon(t)
	for _, r := range []struct{ method, path string }{{"GET", "/nope"}, {"PATCH", "/2015-03-31/functions/f"}, {"POST", "/metrics"}} {
		req, _ := http.NewRequest(r.method, "http://"+d.endpoint+r.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Type, Message string }
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-Errortype") != "UnknownOperationException" || err != nil || doc.Type != "User" {
			t.Errorf("%s %s: %d %q %+v %v, want 404 JSON UnknownOperationException", r.method, r.path, resp.StatusCode,
				resp.Header.Get("X-Amzn-Errortype"), doc, err)
		}
	}
	c, err := net.Dial("tcp", d.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // only keeps a broken daemon from hanging the test
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a CreateFunction whose 10^12-byte body never comes: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("huge declared body: %d, want 413", resp.StatusCode)
	}
}

// vmHWM reads a process's peak resident set (VmHWM) in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestE2ELargeUploadMemory uploads a 48 MB zip (incompressible: ~64 MB of base64, just
// under Lambda's request limit) with CreateFunction and UpdateFunctionCode, streamed by
// the client, and asserts the daemon's peak RSS stays under 150 MB: the code goes to
// disk, not into memory. (Memory, not time: the bound does not depend on machine speed.)
func TestE2ELargeUploadMemory(t *testing.T) {
	skipHeavy(t, "64 MB uploads (daemon memory, not cgroup v2)")
	d := launchDaemon(t)
	zipPath := filepath.Join(t.TempDir(), "big.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "blob", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w, rand.Reader, 48<<20); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := vmHWM(t, d.cmd.Process.Pid)
	upload := func(method, path, prefix, suffix string) int {
		st, _ := os.Stat(zipPath)
		n := int64(len(prefix)) + int64(base64.StdEncoding.EncodedLen(int(st.Size()))) + int64(len(suffix))
		pr, pw := io.Pipe()
		go func() {
			zf, err := os.Open(zipPath)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			defer zf.Close()
			io.WriteString(pw, prefix)
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			io.Copy(enc, zf)
			enc.Close()
			io.WriteString(pw, suffix)
			pw.Close()
		}()
		req, _ := http.NewRequest(method, "http://"+d.endpoint+path, pr)
		req.ContentLength = n
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	upload("POST", "/2015-03-31/functions", `{"FunctionName":"big","Runtime":"faaslab","Handler":"echo","Code":{"ZipFile":"`, `"}}`)
	afterCreate := vmHWM(t, d.cmd.Process.Pid)
	upload("PUT", "/2015-03-31/functions/big/code", `{"ZipFile":"`, `"}`)
	after := vmHWM(t, d.cmd.Process.Pid)
	t.Logf("daemon VmHWM: %d MB at start, %d MB after CreateFunction, %d MB after UpdateFunctionCode (48 MB zip, 64 MB body)",
		before>>20, afterCreate>>20, after>>20)
	if after > 150<<20 {
		t.Errorf("daemon peak RSS %d MB after two 64 MB uploads, want < 150 MB", after>>20)
	}
	cfg, err := d.client.GetFunctionConfiguration(t.Context(), "big")
	if err != nil || cfg.CodeSize < 48<<20 {
		t.Errorf("stored code: size %d, %v", cfg.CodeSize, err)
	}
}
