package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/internal/testutil"
)

// TestE2ENonLoopbackListenNeedsToken: a daemon listening beyond loopback refuses to start
// without a token; with one, a request without it gets Lambda's 401 and with it 200. The
// listener binds 0.0.0.0 (not loopback-only) and the test connects through 127.0.0.1: the
// bind address decides, not the path a request takes.
func TestE2ENonLoopbackListenNeedsToken(t *testing.T) {
	requireRoot(t)
	port := freePort(t)
	listen := fmt.Sprintf("0.0.0.0:%d", port)

	bin := binary(t, "FAASLAB_BIN", "github.com/faaslab/faaslab/cmd/faaslab")
	id := testutil.RandomHex(3)
	out, err := exec.Command(bin, "daemon", "--listen", listen, "--net-prefix", "faaslabz"+id[:3],
		"--cgroup-parent", "/faaslabz"+id[:3], "--state-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "auth.token_file") {
		t.Fatalf("daemon on %s without a token: err %v, output:\n%s\nwant a refusal naming auth.token_file", listen, err, out)
	}

	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "e2e-token-0123456789"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := launchDaemon(t, "--listen", listen, "--auth-token-file", tokenFile)
	get := func(path, auth string) (int, http.Header, []byte) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	for _, path := range []string{"/2015-03-31/functions/", "/metrics", "/faaslab/v1/network/policy"} {
		status, h, body := get(path, "")
		var doc map[string]string
		json.Unmarshal(body, &doc)
		if status != http.StatusUnauthorized || h.Get("X-Amzn-ErrorType") != "UnrecognizedClientException" || doc["message"] == "" {
			t.Errorf("GET %s without the token: %d %s %s; want 401 UnrecognizedClientException with a message", path, status, h.Get("X-Amzn-ErrorType"), body)
		}
		if status, _, body := get(path, "Bearer "+token); status != http.StatusOK {
			t.Errorf("GET %s with the token: %d %s; want 200", path, status, body)
		}
	}
	if status, _, _ := get("/2015-03-31/functions/", "Bearer not-"+token); status != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", status)
	}
	// Every CLI command that talks to a daemon sends the token from --token-file (or
	// FAASLAB_TOKEN_FILE), and a token file it cannot read fails before any request.
	for _, args := range [][]string{{"fn", "list"}, {"services"}, {"data", "list"}} {
		args = append(args, "--endpoint", "http://"+d.endpoint)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
			t.Errorf("faaslab %v without a token: %v\n%s\nwant a 401", args, err, out)
		}
		if out, err := exec.Command(bin, append(args, "--token-file", filepath.Join(t.TempDir(), "absent"))...).CombinedOutput(); err == nil || !strings.Contains(string(out), "--token-file") {
			t.Errorf("faaslab %v with an absent token file: %v\n%s\nwant an error naming --token-file", args, err, out)
		}
		withEnv := exec.Command(bin, args...)
		withEnv.Env = append(os.Environ(), "FAASLAB_TOKEN_FILE="+tokenFile)
		if out, err := withEnv.CombinedOutput(); strings.Contains(string(out), "401") {
			t.Errorf("faaslab %v with FAASLAB_TOKEN_FILE: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command(bin, "fn", "list", "--endpoint", "http://"+d.endpoint, "--token-file", tokenFile).CombinedOutput(); err != nil {
		t.Errorf("faaslab fn list --token-file: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "services", "--endpoint", "http://"+d.endpoint, "--token-file", tokenFile).CombinedOutput(); err != nil {
		t.Errorf("faaslab services --token-file: %v\n%s", err, out)
	}
}
