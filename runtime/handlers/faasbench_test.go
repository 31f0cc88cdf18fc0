package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/faasbench/wire"
)

func TestUnwrapEvent(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(`"x y"`))
	for payload, want := range map[string]string{
		`{"version":"2.0","requestContext":{},"body":"\"a b\""}`:                            `"a b"`,
		`{"version":"2.0","requestContext":{},"body":"` + b64 + `","isBase64Encoded":true}`: `"x y"`,
		`"plain"`:                  `"plain"`,
		`{"version":"2.0"}`:        `{"version":"2.0"}`, // no requestContext: not an event
		`{"text":"direct invoke"}`: `{"text":"direct invoke"}`,
	} {
		if got := string(unwrapEvent([]byte(payload))); got != want {
			t.Errorf("unwrapEvent(%s) = %s, want %s", payload, got, want)
		}
	}
}

func proxyCall(t *testing.T, target string, data any) wire.Response {
	t.Helper()
	d, _ := json.Marshal(data)
	req, _ := json.Marshal(wire.Request{UUID: "112c338d", TargetURI: target, Data: d})
	out, err := FaasbenchProxy(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var r wire.Response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.UUID != "112c338d" {
		t.Fatalf("proxy_workload_uuid %q", r.UUID)
	}
	return r
}

func TestProxyWithInstrumentedTarget(t *testing.T) {
	target := instrumented(WordCount)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, err := target(r.Context(), body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(out)
	}))
	defer srv.Close()
	r := proxyCall(t, srv.URL, "F a a S")
	if r.TargetTiming != "target" || string(r.Result) != `{"words":4,"letters":4}` || r.TargetStatusCode != 200 ||
		r.StartTimeNs == 0 || r.StopTimeNs < r.StartTimeNs || r.Error != "" {
		t.Fatalf("%+v", r)
	}
	if r.M2.BodyBytes != int64(len(`"F a a S"`)) || r.M2.HeaderBytes == 0 || r.M3.HeaderBytes == 0 || r.M3.BodyBytes == 0 {
		t.Fatalf("m2 %+v m3 %+v", r.M2, r.M3)
	}
	if r.M2.FirstByteNs > r.StartTimeNs || r.StopTimeNs > r.M3.LastByteNs {
		t.Fatalf("the target ran outside the exchange: m2 %d start %d stop %d m3 %d", r.M2.FirstByteNs, r.StartTimeNs, r.StopTimeNs, r.M3.LastByteNs)
	}
}

func TestProxyTargetFailuresStillAnswerTheUUID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusBadGateway)
	}))
	defer srv.Close()
	if r := proxyCall(t, srv.URL, "x"); r.TargetStatusCode != 502 || !strings.Contains(r.Error, "502") || r.TargetTiming != "proxy" {
		t.Fatalf("502 target: %+v", r)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if r := proxyCall(t, closed, "x"); r.TargetStatusCode != 0 || !strings.Contains(r.Error, "calling the target") {
		t.Fatalf("closed port: %+v", r)
	}
}

func TestProxyRejectsBadRequests(t *testing.T) {
	for _, p := range []string{`nope`, `{"target_uri":"http://x"}`, `{"faasbench_workload_uuid":"u","target_uri":"ftp://x"}`} {
		_, err := FaasbenchProxy(context.Background(), []byte(p))
		wantInvalid(t, err)
	}
}

func TestTimeoutTargetRunsUntilTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	h, _ := Lookup("faasbench-timeout")
	if _, err := h(ctx, nil); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
}
