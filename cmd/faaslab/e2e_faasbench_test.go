package main

// End-to-end tests of function URLs and faasbench against a real daemon: the URL API's
// wire shapes, a generator run with a gateway and a function timeout, a UUID mismatch,
// and m1–m4 sizes checked against a recording TCP proxy and the URL listener's own
// socket counts.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/faasbench"
	"github.com/faaslab/faaslab/internal/testutil"
	"github.com/faaslab/faaslab/scheduler/urls"
)

// urlFunction creates a built-in function with a URL and returns both its addresses.
func (d *testDaemon) urlFunction(name, handler string, timeoutS int) client.URLInfo {
	d.t.Helper()
	ctx := context.Background()
	if _, err := d.client.CreateFunction(ctx, client.CreateFunctionRequest{FunctionName: name, Runtime: "faaslab",
		Handler: handler, MemorySize: 256, Timeout: timeoutS}); err != nil {
		d.t.Fatalf("create %s: %v", name, err)
	}
	if _, err := d.client.CreateFunctionUrlConfig(ctx, name); err != nil {
		d.t.Fatalf("url of %s: %v", name, err)
	}
	info, err := d.client.FunctionURLInfo(ctx, name)
	if err != nil {
		d.t.Fatal(err)
	}
	return info
}

// rawAPI sends one Lambda API request and returns status, error type and body.
func rawAPI(t *testing.T, method, u, body string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b
}

func TestE2EFunctionURLs(t *testing.T) {
	d := launchDaemon(t)
	base := "http://" + d.endpoint + "/2021-10-31/functions/"
	d.createFunction("echo-url", nil)

	st, et, body := rawAPI(t, "POST", base+"echo-url/url", `{"AuthType":"AWS_IAM"}`)
	if st != 400 || et != "InvalidParameterValueException" {
		t.Fatalf("AWS_IAM: %d %s %s, want 400 InvalidParameterValueException", st, et, body)
	}
	st, et, _ = rawAPI(t, "POST", base+"echo-url/url", `{"AuthType":"BASIC"}`)
	if st != 400 || et != "ValidationException" {
		t.Fatalf("AuthType BASIC: %d %s, want 400 ValidationException", st, et)
	}
	st, _, body = rawAPI(t, "POST", base+"echo-url/url", `{"AuthType":"NONE"}`)
	var created map[string]any
	json.Unmarshal(body, &created)
	if st != 201 || created["AuthType"] != "NONE" || created["InvokeMode"] != "BUFFERED" ||
		!strings.HasSuffix(created["FunctionArn"].(string), ":function:echo-url") || created["CreationTime"] == nil {
		t.Fatalf("create: %d %s", st, body)
	}
	if _, ok := created["LastModifiedTime"]; ok {
		t.Errorf("CreateFunctionUrlConfig answers no LastModifiedTime, got %s", body)
	}
	fnURL := created["FunctionUrl"].(string)
	if !strings.HasPrefix(fnURL, "http://127.0.0.1:") || !strings.Contains(fnURL, urls.PathPrefix) {
		t.Fatalf("FunctionUrl %s", fnURL)
	}
	if st, et, _ = rawAPI(t, "POST", base+"echo-url/url", `{"AuthType":"NONE"}`); st != 409 || et != "ResourceConflictException" {
		t.Fatalf("second create: %d %s", st, et)
	}
	st, _, body = rawAPI(t, "PUT", base+"echo-url/url", `{"Cors":{"AllowOrigins":["*"],"MaxAge":60}}`)
	if st != 200 || !bytes.Contains(body, []byte(`"AllowOrigins":["*"]`)) || !bytes.Contains(body, []byte("LastModifiedTime")) {
		t.Fatalf("update: %d %s", st, body)
	}
	st, _, body = rawAPI(t, "GET", base+"echo-url/urls", "")
	var list struct{ FunctionUrlConfigs []map[string]any }
	json.Unmarshal(body, &list)
	if st != 200 || len(list.FunctionUrlConfigs) != 1 || list.FunctionUrlConfigs[0]["FunctionUrl"] != fnURL {
		t.Fatalf("list: %d %s", st, body)
	}

	// The echo function answers its event: payload format 2.0, binary body in base64.
	req, _ := http.NewRequest("POST", fnURL+"sub/path?a=1&a=2&b=x", bytes.NewReader([]byte{0, 1, 2, 255}))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Cookie", "c1=v1; c2=v2")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	evBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ev urls.Event
	if err := json.Unmarshal(evBody, &ev); err != nil || resp.StatusCode != 200 {
		t.Fatalf("URL invoke: %d %s", resp.StatusCode, evBody)
	}
	raw, _ := base64.StdEncoding.DecodeString(ev.Body)
	if ev.Version != "2.0" || ev.RawPath != "/sub/path" || ev.RawQueryString != "a=1&a=2&b=x" ||
		ev.QueryStringParameters["a"] != "1,2" || ev.Headers["x-multi"] != "one,two" ||
		len(ev.Cookies) != 2 || ev.RequestContext.HTTP.Method != "POST" ||
		ev.RequestContext.HTTP.SourceIP != "127.0.0.1" || ev.RequestContext.RequestID != resp.Header.Get("X-Amzn-Requestid") ||
		ev.RequestContext.TimeEpoch == 0 || !ev.IsBase64Encoded || !bytes.Equal(raw, []byte{0, 1, 2, 255}) {
		t.Fatalf("event: %s", evBody)
	}

	if st, _, _ = rawAPI(t, "DELETE", base+"echo-url/url", ""); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, et, _ = rawAPI(t, "GET", base+"echo-url/url", ""); st != 404 || et != "ResourceNotFoundException" {
		t.Fatalf("get after delete: %d %s", st, et)
	}
	if st, _, _ = rawAPI(t, "POST", fnURL, "{}"); st != 403 {
		t.Fatalf("a deleted URL answers %d, want 403", st)
	}
}

// recordingProxy is a TCP proxy on loopback that keeps every connection's bytes.
type recordingProxy struct {
	ln   net.Listener
	mu   sync.Mutex
	recs []*recording
	wg   sync.WaitGroup
}

type recording struct{ up, down bytes.Buffer }

func startRecordingProxy(t *testing.T, upstream string) *recordingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			rec := &recording{}
			p.mu.Lock()
			p.recs = append(p.recs, rec)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { // client → upstream
				defer p.wg.Done()
				io.Copy(io.MultiWriter(u, &rec.up), c)
				u.(*net.TCPConn).CloseWrite()
			}()
			go func() { // upstream → client
				defer p.wg.Done()
				io.Copy(io.MultiWriter(c, &rec.down), u)
				c.Close()
				u.Close()
			}()
		}
	}()
	return p
}

// split is a captured HTTP message's header (through the blank line) and body sizes.
func split(b []byte) (header, body int64) {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return int64(len(b)), 0
	}
	return int64(i + 4), int64(len(b) - i - 4)
}

func TestE2EFaasbench(t *testing.T) {
	skipHeavy(t, "the faasbench scenarios")
	d := launchDaemon(t, "--url-timeout", "3s", "--keep-alive", "1s")
	ctx := context.Background()
	prefix := "fb" + testutil.RandomHex(4)

	t.Run("responsiveness-shows-keep-alive", func(t *testing.T) {
		// Back-to-back calls reuse the warm proxy; after 3 s idle (keep-alive 1 s, reaped
		// every 100 ms) the sandbox is gone and the call starts cold.
		spec := faasbench.Spec{Name: "e2e-resp", Platform: faasbench.PlatformFaaslab,
			Faaslab: faasbench.FaaslabSpec{Endpoint: "http://" + d.endpoint, FunctionPrefix: prefix + "r", TimeoutS: 10},
			Workloads: []faasbench.Workload{{Name: "r", Kind: faasbench.KindResponsiveness, Target: "wordcount", Words: 3,
				Waits: []time.Duration{0, 0, 3 * time.Second}}}}
		res, err := (&faasbench.Runner{Spec: spec, Dir: t.TempDir()}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var starts []string
		for _, c := range res.Calls {
			starts = append(starts, c.ProxyStart)
		}
		if strings.Join(starts, ",") != "cold,warm,cold" {
			t.Fatalf("proxy starts %v, want cold,warm,cold", starts)
		}
	})

	t.Run("timeouts", func(t *testing.T) {
		spec := faasbench.Spec{Name: "e2e-timeouts", Platform: faasbench.PlatformFaaslab,
			Faaslab: faasbench.FaaslabSpec{Endpoint: "http://" + d.endpoint, FunctionPrefix: prefix, MemoryMB: 256, TimeoutS: 10},
			Workloads: []faasbench.Workload{
				{Name: "wc", Kind: faasbench.KindBatch, Target: "wordcount", Words: 100,
					Batch: faasbench.BatchSpec{Requests: 2, Concurrency: 2}},
				{Name: "to", Kind: faasbench.KindTimeout, GatewaySleepMs: 5000, FunctionTimeoutS: 1},
			}}
		r := &faasbench.Runner{Spec: spec, Dir: t.TempDir()}
		res, err := r.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Calls) != 4 {
			t.Fatalf("%d calls, want 4", len(res.Calls))
		}
		for _, c := range res.Calls[:2] {
			if c.Status != faasbench.StatusSuccess || c.TargetResult != `{"words":100,"letters":100}` || c.TargetTiming != "target" {
				t.Errorf("wordcount call: %+v", c)
			}
		}
		gw, fn := res.Calls[2], res.Calls[3]
		// Gateway level: the generator's own call is cut at 3 s with the gateway's 504, and
		// the proxy (waiting on its target's own 504) is billed past that answer.
		if gw.Status != faasbench.StatusTimeout || gw.HTTPStatus != 504 || !strings.Contains(gw.Answer, "Endpoint request timed out") ||
			!gw.GatewayTimeout || gw.ProxyBilledMs < 3000 {
			t.Errorf("gateway timeout call: %+v", gw)
		}
		// Function level: the target runs into its 1 s timeout; the URL answers 502, the
		// proxy relays it, the record says timeout, billed at the timeout.
		if fn.Status != faasbench.StatusTimeout || fn.HTTPStatus != 200 || fn.TargetStatus != 502 ||
			fn.TargetOutcome != "timeout" || fn.TargetBilledMs < 1000 {
			t.Errorf("function timeout call: %+v", fn)
		}
		if _, err := d.client.GetFunctionConfiguration(ctx, prefix+"-proxy"); !client.IsNotFound(err) {
			t.Errorf("the run left its proxy function: %v", err)
		}
	})

	t.Run("uuid-mismatch-is-invalid", func(t *testing.T) {
		// The echo function behind a URL answers its event, not the proxy's message: the
		// UUID does not come back.
		echo := d.urlFunction(prefix+"-echo", "echo", 3)
		spec := faasbench.Spec{Name: "e2e-invalid", Platform: faasbench.PlatformHTTP,
			HTTP:      faasbench.HTTPSpec{ProxyURL: echo.FunctionUrl, Targets: map[string]string{"wordcount": echo.SandboxFunctionUrl}},
			Workloads: []faasbench.Workload{{Name: "wc", Kind: faasbench.KindBatch, Target: "wordcount", Words: 4}}}
		spec.ClientTimeout = 30 * time.Second
		res, err := (&faasbench.Runner{Spec: spec, Dir: t.TempDir()}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c := res.Calls[0]; c.Status != faasbench.StatusInvalid || c.HTTPStatus != 200 || !strings.Contains(c.Error, "proxy_workload_uuid") {
			t.Fatalf("call: %+v", c)
		}
	})

	t.Run("sandbox-reaches-urls-not-the-management-api", func(t *testing.T) {
		// The proxy is an HTTP client inside a sandbox: the function URL port on the gateway
		// answers, the Lambda API's port on the same address does not.
		proxy := d.urlFunction(prefix+"-iproxy", "faasbench-proxy", 3) // a dropped SYN ends at the timeout
		gw := strings.TrimPrefix(proxy.SandboxFunctionUrl, "http://")
		gwHost, _, _ := net.SplitHostPort(gw[:strings.IndexByte(gw, '/')])
		_, apiPort, _ := net.SplitHostPort(d.endpoint)
		for target, wantReach := range map[string]bool{
			proxy.SandboxFunctionUrl: true, // itself, with an empty payload: answers 502 (invalid payload)
			"http://" + net.JoinHostPort(gwHost, apiPort) + "/2015-03-31/functions/": false,
		} {
			msg, _ := json.Marshal(map[string]any{"faasbench_workload_uuid": "u", "target_uri": target, "faasbench_workload_data": "x"})
			resp, err := http.Post(proxy.FunctionUrl, "application/json", bytes.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Status int    `json:"proxy_target_status_code"`
				Err    string `json:"proxy_error"`
			}
			json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if reached := r.Status != 0; reached != wantReach {
				t.Errorf("%s from a sandbox: status %d error %q, want reachable %v", target, r.Status, r.Err, wantReach)
			}
		}
	})

	t.Run("wire-sizes", func(t *testing.T) {
		proxy := d.urlFunction(prefix+"-wproxy", "faasbench-proxy", 10)
		target := d.urlFunction(prefix+"-wtarget", "faasbench-wordcount", 10)
		addr := strings.TrimPrefix(proxy.FunctionUrl, "http://")
		addr = addr[:strings.IndexByte(addr, '/')]
		rp := startRecordingProxy(t, addr)
		spec := faasbench.Spec{Name: "e2e-wire", Platform: faasbench.PlatformHTTP, ClientTimeout: 30 * time.Second,
			HTTP: faasbench.HTTPSpec{ProxyURL: strings.Replace(proxy.FunctionUrl, addr, rp.ln.Addr().String(), 1),
				Targets: map[string]string{"wordcount": target.SandboxFunctionUrl}},
			Workloads: []faasbench.Workload{
				{Name: "w10", Kind: faasbench.KindBatch, Target: "wordcount", Words: 10},
				{Name: "w5000", Kind: faasbench.KindBatch, Target: "wordcount", Words: 5000},
			}}
		res, err := (&faasbench.Runner{Spec: spec, Dir: t.TempDir()}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rp.wg.Wait()
		if len(rp.recs) != len(res.Calls) {
			t.Fatalf("%d connections through the recording proxy for %d calls", len(rp.recs), len(res.Calls))
		}
		for i, c := range res.Calls {
			if c.Status != faasbench.StatusSuccess {
				t.Fatalf("call %d: %+v", i, c)
			}
			uh, ub := split(rp.recs[i].up.Bytes())
			dh, db := split(rp.recs[i].down.Bytes())
			if c.M1.HeaderBytes != uh || c.M1.BodyBytes != ub || c.M4.HeaderBytes != dh || c.M4.BodyBytes != db {
				t.Errorf("call %d: m1 %d+%d m4 %d+%d; on the wire m1 %d+%d m4 %d+%d", i,
					c.M1.HeaderBytes, c.M1.BodyBytes, c.M4.HeaderBytes, c.M4.BodyBytes, uh, ub, dh, db)
			}
			// m2/m3 against the URL listener's own socket counts for the target's request,
			// m1/m4 against them for the proxy's.
			for _, x := range []struct {
				id    string
				req   [2]int64
				resp  [2]int64
				point string
			}{
				{c.TargetRequestID, [2]int64{c.M2.HeaderBytes, c.M2.BodyBytes}, [2]int64{c.M3.HeaderBytes, c.M3.BodyBytes}, "m2/m3"},
				{c.ProxyRequestID, [2]int64{c.M1.HeaderBytes, c.M1.BodyBytes}, [2]int64{c.M4.HeaderBytes, c.M4.BodyBytes}, "m1/m4"},
			} {
				w := listenerWire(t, d, x.id)
				if w.RequestHeaderBytes() != x.req[0] || w.RequestBodyBytes != x.req[1] ||
					w.ResponseHeaderBytes() != x.resp[0] || w.ResponseBodyBytes != x.resp[1] {
					t.Errorf("call %d %s: measured %v %v, listener counted %+v", i, x.point, x.req, x.resp, w)
				}
			}
		}
		if small, big := res.Calls[0].M2.BodyBytes, res.Calls[1].M2.BodyBytes; big-small != 2*5000-2*10 {
			t.Errorf("m2 bodies %d and %d: the 5000-word workload should be %d bytes bigger", small, big, 2*5000-2*10)
		}
	})
}

// listenerWire waits for the URL listener's count of request id's connection.
func listenerWire(t *testing.T, d *testDaemon, id string) urls.Wire {
	t.Helper()
	for i := 0; i < 100; i++ {
		inv, err := d.client.URLInvocation(context.Background(), id)
		if err == nil && inv.Wire != nil {
			return *inv.Wire
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no wire count for URL invocation %q", id)
	return urls.Wire{}
}

// TestE2EAWSCLIFunctionURLs drives the function URL API with the real aws CLI (its
// botocore models check the wire shapes) and calls the URL it returns.
func TestE2EAWSCLIFunctionURLs(t *testing.T) {
	skipHeavy(t, "the aws CLI")
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed (make deps installs awscli)")
	}
	d := launchDaemon(t)
	d.createFunction("wc", map[string]any{"Handler": "faasbench-wordcount"})
	run := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(aws, append([]string{"--endpoint-url", "http://" + d.endpoint, "--region", "us-east-1",
			"--output", "json", "lambda"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=faaslab", "AWS_SECRET_ACCESS_KEY=faaslab", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws lambda %v: %v\n%s", args, err, out)
		}
		var m map[string]any
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws lambda %v: %s", args, out)
			}
		}
		return m
	}
	created := run("create-function-url-config", "--function-name", "wc", "--auth-type", "NONE")
	fnURL, _ := created["FunctionUrl"].(string)
	if got := run("get-function-url-config", "--function-name", "wc"); got["FunctionUrl"] != fnURL || got["AuthType"] != "NONE" {
		t.Fatalf("get: %v", got)
	}
	if got := run("update-function-url-config", "--function-name", "wc", "--cors", "AllowOrigins=*"); got["Cors"] == nil {
		t.Fatalf("update: %v", got)
	}
	if got := run("list-function-url-configs", "--function-name", "wc"); len(got["FunctionUrlConfigs"].([]any)) != 1 {
		t.Fatalf("list: %v", got)
	}
	resp, err := http.Post(fnURL, "application/json", strings.NewReader(`"F a a S"`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"target_workload_result":{"words":4,"letters":4}`)) {
		t.Fatalf("URL answered %d %s", resp.StatusCode, body)
	}
	run("delete-function-url-config", "--function-name", "wc")
}
