package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/scheduler"
	"github.com/faaslab/faaslab/scheduler/api"
	"github.com/faaslab/faaslab/scheduler/schedulertest"
)

type testAPI struct {
	t    testing.TB
	srv  *httptest.Server
	s    *scheduler.Scheduler
	fake *schedulertest.Fake
}

func newTestAPI(t testing.TB, mutate func(*scheduler.Config)) *testAPI {
	t.Helper()
	cfg := scheduler.DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.RuntimeBin = "/bin/true"
	if mutate != nil {
		mutate(&cfg)
	}
	fake := schedulertest.New()
	s, err := scheduler.New(cfg, fake.Deps(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewHandler(api.Deps{Service: s}))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return &testAPI{t: t, srv: srv, s: s, fake: fake}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (a *testAPI) do(method, path string, body any, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		a.t.Errorf("%s %s: no x-amzn-RequestId header", method, path)
	}
	return response{resp.StatusCode, resp.Header, data}
}

func (a *testAPI) create(name string, extra map[string]any) response {
	a.t.Helper()
	req := map[string]any{"FunctionName": name, "Runtime": "faaslab", "Handler": "echo",
		"Role": "arn:aws:iam::000000000000:role/x", "MemorySize": 128, "Timeout": 3, "Code": map[string]any{}}
	for k, v := range extra {
		req[k] = v
	}
	return a.do("POST", "/2015-03-31/functions", req)
}

// wantError checks Lambda's error shape: status, X-Amzn-ErrorType and {"Type","message"}.
func wantError(t *testing.T, r response, status int, errType, msgPart string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	msg, _ := doc["message"].(string)
	if r.status != status || r.header.Get("X-Amzn-ErrorType") != errType || doc["Type"] == nil || !strings.Contains(msg, msgPart) {
		t.Errorf("got %d %s %s; want %d %s with message containing %q", r.status, r.header.Get("X-Amzn-ErrorType"), r.body, status, errType, msgPart)
	}
}

func TestCreateGetListDelete(t *testing.T) {
	a := newTestAPI(t, nil)
	r := a.create("hello", map[string]any{"Environment": map[string]any{"Variables": map[string]string{"K": "v"}}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var fc map[string]any
	json.Unmarshal(r.body, &fc)
	want := map[string]any{
		"FunctionName": "hello", "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:hello",
		"Runtime": "faaslab", "Handler": "echo", "MemorySize": 128.0, "Timeout": 3.0, "Version": "$LATEST",
		"State": "Active", "PackageType": "Zip", "Role": "arn:aws:iam::000000000000:role/x", "CodeSize": 0.0,
		"LastUpdateStatus": "Successful", "Description": "",
	}
	for k, v := range want {
		if fc[k] != v {
			t.Errorf("FunctionConfiguration.%s = %v, want %v", k, fc[k], v)
		}
	}
	if fmt.Sprint(fc["Architectures"]) != "[x86_64]" || fmt.Sprint(fc["EphemeralStorage"]) != "map[Size:512]" ||
		fmt.Sprint(fc["Environment"]) != "map[Variables:map[K:v]]" {
		t.Errorf("Architectures %v EphemeralStorage %v Environment %v", fc["Architectures"], fc["EphemeralStorage"], fc["Environment"])
	}
	if lm, _ := fc["LastModified"].(string); len(lm) != len("2019-08-14T22:26:11.234+0000") || !strings.HasSuffix(lm, "+0000") {
		t.Errorf("LastModified %q", lm)
	}
	if sha, _ := fc["CodeSha256"].(string); len(sha) != 44 {
		t.Errorf("CodeSha256 %q is not base64 SHA-256", sha)
	}

	wantError(t, a.create("hello", nil), 409, "ResourceConflictException", "Function already exist: hello")

	r = a.do("GET", "/2015-03-31/functions/hello", nil)
	var gf struct {
		Configuration map[string]any
		Code          map[string]any
	}
	if err := json.Unmarshal(r.body, &gf); err != nil || r.status != 200 || gf.Configuration["FunctionName"] != "hello" || gf.Code["RepositoryType"] != "S3" {
		t.Errorf("GetFunction: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/2015-03-31/functions/hello/configuration", nil)
	if json.Unmarshal(r.body, &fc) != nil || r.status != 200 || fc["FunctionName"] != "hello" {
		t.Errorf("GetFunctionConfiguration: %d %s", r.status, r.body)
	}

	for _, n := range []string{"b", "c", "d"} {
		a.create(n, nil)
	}
	var names []string
	marker := ""
	for page := 0; page < 5; page++ {
		r = a.do("GET", "/2015-03-31/functions/?MaxItems=3&Marker="+url.QueryEscape(marker), nil)
		var lf struct {
			Functions  []map[string]any
			NextMarker string
		}
		if err := json.Unmarshal(r.body, &lf); err != nil || r.status != 200 {
			t.Fatalf("ListFunctions: %d %s", r.status, r.body)
		}
		for _, f := range lf.Functions {
			names = append(names, f["FunctionName"].(string))
		}
		if lf.NextMarker == "" {
			break
		}
		marker = lf.NextMarker
	}
	if strings.Join(names, ",") != "b,c,d,hello" {
		t.Errorf("paged list: %v", names)
	}
	wantError(t, a.do("GET", "/2015-03-31/functions/?MaxItems=0", nil), 400, "InvalidParameterValueException", "MaxItems")

	r = a.do("DELETE", "/2015-03-31/functions/hello", nil)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	wantError(t, a.do("GET", "/2015-03-31/functions/hello", nil), 404, "ResourceNotFoundException",
		"Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello")
	wantError(t, a.do("DELETE", "/2015-03-31/functions/hello", nil), 404, "ResourceNotFoundException", "hello")
}

func TestCreateErrors(t *testing.T) {
	a := newTestAPI(t, nil)
	wantError(t, a.create("big", map[string]any{"MemorySize": 99999}), 400, "InvalidParameterValueException", "MemorySize 99999 MB is outside 128–3008 MB")
	wantError(t, a.create("slow", map[string]any{"Timeout": 901}), 400, "InvalidParameterValueException", "Timeout 901 s is outside 1–900 seconds")
	wantError(t, a.create("bad!", nil), 400, "InvalidParameterValueException", "FunctionName")
	wantError(t, a.create("rt", map[string]any{"Runtime": "nodejs20.x"}), 400, "InvalidParameterValueException", "Runtime")
	wantError(t, a.create("s3", map[string]any{"Code": map[string]any{"S3Bucket": "b", "S3Key": "k"}}), 400, "InvalidParameterValueException", "ZipFile")
	wantError(t, a.create("noboot", map[string]any{"Runtime": "provided.al2023", "Code": map[string]any{"ZipFile": zipOf(t, "main", 0o755)}}),
		400, "InvalidParameterValueException", "bootstrap")
	wantError(t, a.do("POST", "/2015-03-31/functions", "{not json"), 400, "InvalidRequestContentException", "json")
	wantError(t, a.do("GET", "/2015-03-31/nothing-here", nil), 404, "UnknownOperationException", "Unknown operation")
	r := a.create("zipped", map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap",
		"Code": map[string]any{"ZipFile": zipOf(t, "bootstrap", 0o755)}})
	if r.status != 201 {
		t.Errorf("zip with bootstrap: %d %s", r.status, r.body)
	}
}

func zipOf(t *testing.T, name string, mode uint32) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name}
	h.SetMode(os.FileMode(mode))
	w, _ := zw.CreateHeader(h)
	w.Write([]byte("#!/bin/sh\n"))
	zw.Close()
	return buf.Bytes()
}

func TestUpdatesAndConcurrency(t *testing.T) {
	a := newTestAPI(t, nil)
	a.create("u", nil)
	r := a.do("PUT", "/2015-03-31/functions/u/configuration", map[string]any{"MemorySize": 1024, "Timeout": 30,
		"Environment": map[string]any{"Variables": map[string]string{"X": "1"}}})
	var fc map[string]any
	if json.Unmarshal(r.body, &fc) != nil || r.status != 200 || fc["MemorySize"] != 1024.0 || fc["Timeout"] != 30.0 ||
		fmt.Sprint(fc["Environment"]) != "map[Variables:map[X:1]]" {
		t.Errorf("UpdateFunctionConfiguration: %d %s", r.status, r.body)
	}
	wantError(t, a.do("PUT", "/2015-03-31/functions/u/configuration", map[string]any{"MemorySize": 64}), 400,
		"InvalidParameterValueException", "128–3008")
	wantError(t, a.do("PUT", "/2015-03-31/functions/nope/configuration", map[string]any{"Timeout": 5}), 404,
		"ResourceNotFoundException", "nope")

	r = a.do("PUT", "/2015-03-31/functions/u/code", map[string]any{"ZipFile": zipOf(t, "handler.txt", 0o644)})
	if json.Unmarshal(r.body, &fc) != nil || r.status != 200 || fc["CodeSize"].(float64) == 0 {
		t.Errorf("UpdateFunctionCode: %d %s", r.status, r.body)
	}

	r = a.do("PUT", "/2017-10-31/functions/u/concurrency", map[string]any{"ReservedConcurrentExecutions": 5})
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"ReservedConcurrentExecutions":5}` {
		t.Errorf("PutFunctionConcurrency: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/2019-09-30/functions/u/concurrency", nil)
	if strings.TrimSpace(string(r.body)) != `{"ReservedConcurrentExecutions":5}` {
		t.Errorf("GetFunctionConcurrency: %s", r.body)
	}
	r = a.do("GET", "/2015-03-31/functions/u", nil)
	if !strings.Contains(string(r.body), `"Concurrency":{"ReservedConcurrentExecutions":5}`) {
		t.Errorf("GetFunction lacks Concurrency: %s", r.body)
	}
	wantError(t, a.do("PUT", "/2017-10-31/functions/u/concurrency", map[string]any{"ReservedConcurrentExecutions": -1}), 400,
		"InvalidParameterValueException", "ReservedConcurrentExecutions")
	if r := a.do("DELETE", "/2017-10-31/functions/u/concurrency", nil); r.status != 204 {
		t.Errorf("DeleteFunctionConcurrency: %d", r.status)
	}
	if r := a.do("GET", "/2019-09-30/functions/u/concurrency", nil); strings.TrimSpace(string(r.body)) != `{}` {
		t.Errorf("concurrency after delete: %s", r.body)
	}
	a.do("PUT", "/2017-10-31/functions/u/concurrency", map[string]any{"ReservedConcurrentExecutions": 0})
	r = a.do("POST", "/2015-03-31/functions/u/invocations", "{}")
	wantError(t, r, 429, "TooManyRequestsException", "Rate Exceeded")
	if !strings.Contains(string(r.body), `"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"`) {
		t.Errorf("429 body lacks Reason: %s", r.body)
	}
}

func TestInvoke(t *testing.T) {
	a := newTestAPI(t, nil)
	a.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		if string(inv.Payload) == `"fail"` {
			return runtime.Response{FunctionError: true, ErrorType: "Boom", Payload: []byte(`{"errorMessage":"boom","errorType":"Boom"}`)}, nil
		}
		sb.Log("handler says hi\n")
		return runtime.Response{Payload: inv.Payload}, nil
	}
	a.create("echo", nil)
	r := a.do("POST", "/2015-03-31/functions/echo/invocations", `{"x":1}`, "X-Amz-Log-Type", "Tail")
	if r.status != 200 || string(r.body) != `{"x":1}` || r.header.Get("X-Amz-Executed-Version") != "$LATEST" ||
		r.header.Get("X-Amz-Function-Error") != "" {
		t.Fatalf("invoke: %d %v %s", r.status, r.header, r.body)
	}
	tail, err := base64.StdEncoding.DecodeString(r.header.Get("X-Amz-Log-Result"))
	reqID := r.header.Get("x-amzn-RequestId")
	if err != nil || !strings.Contains(string(tail), "REPORT RequestId: "+reqID) ||
		!strings.Contains(string(tail), "START RequestId: "+reqID) || !strings.Contains(string(tail), "handler says hi") {
		t.Errorf("X-Amz-Log-Result decodes to %q (%v); want START/REPORT of %s", tail, err, reqID)
	}
	r = a.do("POST", "/2015-03-31/functions/echo/invocations", `{}`)
	if r.header.Get("X-Amz-Log-Result") != "" {
		t.Errorf("no Tail asked, got a log result")
	}

	r = a.do("POST", "/2015-03-31/functions/echo/invocations", `"fail"`)
	if r.status != 200 || r.header.Get("X-Amz-Function-Error") != "Unhandled" || string(r.body) != `{"errorMessage":"boom","errorType":"Boom"}` {
		t.Errorf("function error: %d %v %s", r.status, r.header, r.body)
	}

	for _, name := range []string{"arn:aws:lambda:us-east-1:000000000000:function:echo", "000000000000:function:echo",
		"echo:$LATEST", "arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST"} {
		r = a.do("POST", "/2015-03-31/functions/"+url.PathEscape(name)+"/invocations", `"n"`)
		if r.status != 200 || string(r.body) != `"n"` {
			t.Errorf("invoke by %s: %d %s", name, r.status, r.body)
		}
	}
	wantError(t, a.do("POST", "/2015-03-31/functions/echo:1/invocations", `{}`), 404, "ResourceNotFoundException", "function:echo:1")
	wantError(t, a.do("POST", "/2015-03-31/functions/echo/invocations?Qualifier=prod", `{}`), 404, "ResourceNotFoundException", "echo:prod")
	wantError(t, a.do("POST", "/2015-03-31/functions/nope/invocations", `{}`), 404, "ResourceNotFoundException",
		"Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")

	r = a.do("POST", "/2015-03-31/functions/echo/invocations", bytes.Repeat([]byte("a"), 6*1024*1024+1))
	wantError(t, r, 413, "RequestTooLargeException", "6291456")
	r = a.do("POST", "/2015-03-31/functions/echo/invocations", bytes.Repeat([]byte("a"), 1024*1024+1), "X-Amz-Invocation-Type", "Event")
	wantError(t, r, 413, "RequestTooLargeException", "1048576")
	// Exactly 1 MB of JSON is a valid Event (Lambda's limit now, 256 KB before).
	oneMB := append(append([]byte{'"'}, bytes.Repeat([]byte("a"), 1024*1024-2)...), '"')
	if r := a.do("POST", "/2015-03-31/functions/echo/invocations", oneMB, "X-Amz-Invocation-Type", "Event"); r.status != http.StatusAccepted {
		t.Errorf("Event of exactly 1 MB: %d %s", r.status, r.body)
	}
	// Exactly 6 MB of JSON: a string of 6 MB - 2 letters between its quotes.
	sixMB := append(append([]byte{'"'}, bytes.Repeat([]byte("a"), 6*1024*1024-2)...), '"')
	if r := a.do("POST", "/2015-03-31/functions/echo/invocations", sixMB); r.status != 200 || len(r.body) != 6*1024*1024 {
		t.Errorf("exactly 6 MB: %d, %d bytes back", r.status, len(r.body))
	}

	r = a.do("POST", "/2015-03-31/functions/echo/invocations", `{}`, "X-Amz-Invocation-Type", "Event")
	if r.status != http.StatusAccepted || len(r.body) != 0 {
		t.Errorf("Event: %d %q", r.status, r.body)
	}
	r = a.do("POST", "/2015-03-31/functions/echo/invocations", `{}`, "X-Amz-Invocation-Type", "DryRun")
	if r.status != http.StatusNoContent {
		t.Errorf("DryRun: %d %s", r.status, r.body)
	}
	wantError(t, a.do("POST", "/2015-03-31/functions/nope/invocations", `{}`, "X-Amz-Invocation-Type", "DryRun"), 404, "ResourceNotFoundException", "nope")
	wantError(t, a.do("POST", "/2015-03-31/functions/echo/invocations", `{}`, "X-Amz-Invocation-Type", "Sometimes"), 400,
		"InvalidParameterValueException", "RequestResponse, Event or DryRun")

	// An empty payload reaches the handler as {}.
	if r := a.do("POST", "/2015-03-31/functions/echo/invocations", nil); string(r.body) != "{}" {
		t.Errorf("empty payload became %q", r.body)
	}
}

// Lambda parses every Invoke payload: one that is not JSON is refused with 400
// InvalidRequestContentException, synchronous or Event, and the function never runs.
func TestInvokeRefusesNonJSONPayload(t *testing.T) {
	a := newTestAPI(t, nil)
	var invoked int
	a.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		invoked++
		return runtime.Response{Payload: inv.Payload}, nil
	}
	a.create("echo", nil)
	for _, invType := range []string{"RequestResponse", "Event"} {
		for _, payload := range []string{"hello", `{"x":1`, `{"x":1} trailing`} {
			r := a.do("POST", "/2015-03-31/functions/echo/invocations", payload, "X-Amz-Invocation-Type", invType)
			wantError(t, r, 400, "InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json: ")
		}
	}
	// Any JSON value is a payload, a bare string or number too.
	for _, payload := range []string{`"hello"`, `42`, ` {"x":[1,null]} `} {
		if r := a.do("POST", "/2015-03-31/functions/echo/invocations", payload); r.status != 200 || string(r.body) != payload {
			t.Errorf("payload %s: %d %s", payload, r.status, r.body)
		}
	}
	if invoked != 3 {
		t.Errorf("the function ran %d times, want 3 (only the JSON payloads)", invoked)
	}
}

// Lambda always hands the runtime a trace header: the caller's X-Amzn-Trace-Id as is, or a
// new X-Ray one.
func TestInvokePassesTraceID(t *testing.T) {
	a := newTestAPI(t, nil)
	a.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		return runtime.Response{Payload: []byte(strconv.Quote(inv.TraceID))}, nil
	}
	a.create("trace", nil)
	given := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	if r := a.do("POST", "/2015-03-31/functions/trace/invocations", `{}`, "X-Amzn-Trace-Id", given); string(r.body) != strconv.Quote(given) {
		t.Errorf("with X-Amzn-Trace-Id: the runtime got %s, want %q", r.body, given)
	}
	r := a.do("POST", "/2015-03-31/functions/trace/invocations", `{}`)
	got, _ := strconv.Unquote(string(r.body))
	if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(got) {
		t.Errorf("without X-Amzn-Trace-Id: the runtime got %q, want a new X-Ray trace header", got)
	}
}

// Lambda passes ClientContext to the function for synchronous invocations only.
func TestClientContextSyncOnly(t *testing.T) {
	a := newTestAPI(t, nil)
	got := make(chan string, 2)
	a.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		got <- inv.ClientContext
		return runtime.Response{Payload: []byte(`{}`)}, nil
	}
	a.create("cc", nil)
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"}}`))
	a.do("POST", "/2015-03-31/functions/cc/invocations", `{}`, "X-Amz-Client-Context", cc)
	if c := <-got; c != `{"custom":{"k":"v"}}` {
		t.Errorf("RequestResponse: the function got ClientContext %q", c)
	}
	if r := a.do("POST", "/2015-03-31/functions/cc/invocations", `{}`, "X-Amz-Client-Context", cc, "X-Amz-Invocation-Type", "Event"); r.status != 202 {
		t.Fatalf("Event: %d %s", r.status, r.body)
	}
	select {
	case c := <-got:
		if c != "" {
			t.Errorf("Event: the function got ClientContext %q, want none", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Event invocation never ran")
	}
}

func TestInvokeTimeoutOverAPI(t *testing.T) {
	a := newTestAPI(t, nil)
	a.fake.Handler = func(ctx context.Context, sb *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		<-ctx.Done()
		return runtime.Response{}, ctx.Err()
	}
	a.create("slow", map[string]any{"Timeout": 1})
	r := a.do("POST", "/2015-03-31/functions/slow/invocations", `{}`)
	if r.status != 200 || r.header.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(string(r.body), "Task timed out after 1.00 seconds") {
		t.Errorf("timeout: %d %v %s", r.status, r.header, r.body)
	}
}
