package urls

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/scheduler"
)

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		payload, body string
		status        int
		header        string
	}{
		// A structured answer: status, headers and body as given.
		{`{"statusCode":201,"headers":{"X-A":"b"},"body":"hi"}`, "hi", 201, "b"},
		// base64 bodies are decoded.
		{`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, "hi", 200, ""},
		// No statusCode: the whole payload is a 200 JSON body, as Lambda infers.
		{`{"words":4}`, `{"words":4}`, 200, ""},
		{`[1,2]`, `[1,2]`, 200, ""},
		// A JSON string is its text, unquoted, as Lambda answers it.
		{`"just a string"`, `just a string`, 200, ""},
		{`"say \"hi\"\n"`, "say \"hi\"\n", 200, ""},
		// statusCode as a string of digits is honoured, as Lambda does.
		{`{"statusCode":"418","body":"i'm a teapot"}`, "i'm a teapot", 418, ""},
	} {
		r, body, err := parseResponse([]byte(tc.payload))
		if err != nil || string(body) != tc.body || r.StatusCode != tc.status || r.Headers["X-A"] != tc.header {
			t.Errorf("%s: %+v %q %v", tc.payload, r, body, err)
		}
	}
	if _, _, err := parseResponse([]byte(`{"statusCode":200,"body":"%%%","isBase64Encoded":true}`)); err == nil {
		t.Error("bad base64 body accepted")
	}
	for _, bad := range []string{`{"statusCode":"teapot"}`, `{"statusCode":true}`} {
		if _, _, err := parseResponse([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// The answer a client sees: Content-Type application/json unless the function gives one,
// for inferred and structured responses alike.
func TestWriteResultContentType(t *testing.T) {
	for _, tc := range []struct{ payload, contentType, body string }{
		{`"hello"`, "application/json", "hello"},
		{`{"statusCode":201,"body":"{\"a\":1}"}`, "application/json", `{"a":1}`},
		{`{"statusCode":200,"headers":{"content-type":"text/html"},"body":"<p>"}`, "text/html", "<p>"},
	} {
		w := httptest.NewRecorder()
		writeResult(w, &scheduler.InvokeResult{Payload: []byte(tc.payload)}, slog.New(slog.DiscardHandler))
		if got := w.Header().Get("Content-Type"); got != tc.contentType || w.Body.String() != tc.body {
			t.Errorf("%s: Content-Type %q body %q; want %q %q", tc.payload, got, w.Body.String(), tc.contentType, tc.body)
		}
	}
}

// storeWithURL is an in-memory store holding one buffered, unauthenticated URL of f.
func storeWithURL(t *testing.T) (*Store, Config) {
	t.Helper()
	s, err := Open("", "http://127.0.0.1:1", "http://10.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create("f", AuthNone, ModeBuffered, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestRouteAndEvent(t *testing.T) {
	s, c := storeWithURL(t)
	if _, err := s.Create("f", AuthNone, ModeBuffered, nil); err != ErrExists {
		t.Fatalf("second create: %v", err)
	}
	if len(c.URLID) != 32 || s.SandboxURL(c) != "http://10.0.0.1:1/fn/"+c.URLID+"/" {
		t.Fatalf("url id %q, sandbox URL %s", c.URLID, s.SandboxURL(c))
	}
	for _, tc := range []struct{ host, path, want string }{
		{"127.0.0.1:1", "/fn/" + c.URLID + "/", "/"},
		{"127.0.0.1:1", "/fn/" + c.URLID + "/a/b", "/a/b"},
		{c.URLID + ".lambda-url.us-east-1.on.aws", "/x", "/x"},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Host = tc.host
		got, raw, ok := route(s, r)
		if !ok || got.Function != "f" || raw != tc.want {
			t.Errorf("%s%s: %v %q %v", tc.host, tc.path, got.Function, raw, ok)
		}
	}
	if _, _, ok := route(s, httptest.NewRequest("GET", "/fn/nope/", nil)); ok {
		t.Error("unknown URL id routed")
	}

	r := httptest.NewRequest("POST", "/fn/"+c.URLID+"/p?x=1", strings.NewReader(""))
	r.Header.Set("Content-Type", "application/json")
	now := time.Unix(1583348638, 390e6)
	ev := newEvent(r, []byte(`{"a":1}`), c, "000000000000", "d", "rid", "/p", now)
	if ev.Body != `{"a":1}` || ev.IsBase64Encoded || ev.RequestContext.TimeEpoch != 1583348638390 ||
		ev.RequestContext.Time != "04/Mar/2020:19:03:58 +0000" || ev.Headers["content-type"] != "application/json" {
		t.Errorf("event: %+v", ev)
	}
}

func TestIsText(t *testing.T) {
	for ct, want := range map[string]bool{"": true, "text/plain; charset=utf-8": true, "application/json": true,
		"application/vnd.api+json": true, "application/octet-stream": false, "image/png": false} {
		if isText(ct) != want {
			t.Errorf("isText(%q) = %v", ct, !want)
		}
	}
	_ = http.StatusOK
}
