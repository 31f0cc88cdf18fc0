package faasbench_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faaslab/faaslab/experiments/faasbench"
	"github.com/faaslab/faaslab/experiments/faasbench/wire"
	"github.com/faaslab/faaslab/runtime/handlers"
)

// plainPlatform is a tiny HTTP platform on loopback that is not faaslab: the faasbench
// proxy served by net/http, a productive word count target that knows nothing of faasbench,
// a proxy that answers a wrong UUID, and an async route.
func plainPlatform(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var async atomic.Int32
	proxy, _ := handlers.Lookup("faasbench-proxy")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /proxy", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
			async.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		out, err := proxy(r.Context(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(out)
	})
	mux.HandleFunc("POST /wc", func(w http.ResponseWriter, r *http.Request) {
		var text string
		json.NewDecoder(r.Body).Decode(&text)
		json.NewEncoder(w).Encode(map[string]int{"words": len(strings.Fields(text))})
	})
	mux.HandleFunc("POST /liar", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(wire.Response{UUID: "not-the-one"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &async
}

func TestRunAgainstPlainHTTP(t *testing.T) {
	srv, async := plainPlatform(t)
	spec, err := faasbench.ParseSpec([]byte(`
name: plain
platform: http
http:
  proxy_url: ` + srv.URL + `/proxy
  targets:
    wordcount: ` + srv.URL + `/wc
workloads:
  - {name: batch, kind: batch, target: wordcount, words: 50, requests: 6, concurrency: 3}
  - {name: async, kind: batch, target: wordcount, words: 5, requests: 2, async: true}
  - {name: resp, kind: responsiveness, target: wordcount, words: 3, waits: [0s, 20ms]}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := (&faasbench.Runner{Spec: spec, Dir: dir}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Calls) != 10 {
		t.Fatalf("%d calls, want 10", len(res.Calls))
	}
	uuids := map[string]bool{}
	wantData, _ := json.Marshal(faasbench.Words(50))
	for _, c := range res.Calls {
		if c.Status != faasbench.StatusSuccess || uuids[c.UUID] {
			t.Errorf("call %s/%d: status %s uuid %s (dup %v): %s", c.Workload, c.Seq, c.Status, c.UUID, uuids[c.UUID], c.Error)
		}
		uuids[c.UUID] = true
		if c.Async {
			continue
		}
		if c.TargetTiming != "proxy" || c.TargetStatus != 200 || c.M3.BodyBytes == 0 || c.M1.HeaderBytes == 0 || c.TargetRunMs <= 0 || c.ProxyRunMs < c.TargetRunMs {
			t.Errorf("call %s/%d: %+v", c.Workload, c.Seq, c)
		}
		if c.Workload == "batch" && (c.M2.BodyBytes != int64(len(wantData)) || c.TargetResult != `{"words":50}`) {
			t.Errorf("batch call: m2 body %d (want %d), result %q", c.M2.BodyBytes, len(wantData), c.TargetResult)
		}
	}
	if async.Load() != 2 {
		t.Errorf("the async route got %d calls, want 2", async.Load())
	}
	f, err := os.Open(filepath.Join(res.Dir, faasbench.CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 11 {
		t.Fatalf("calls.csv: %d rows, %v", len(rows), err)
	}
	for _, name := range []string{faasbench.LogFile, faasbench.TablesFile} {
		if b, err := os.ReadFile(filepath.Join(res.Dir, name)); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWrongUUIDIsInvalid(t *testing.T) {
	srv, _ := plainPlatform(t)
	spec := faasbench.Spec{Name: "liar", Platform: faasbench.PlatformHTTP, ClientTimeout: 10 * time.Second,
		HTTP:      faasbench.HTTPSpec{ProxyURL: srv.URL + "/liar", Targets: map[string]string{"wordcount": srv.URL + "/wc"}},
		Workloads: []faasbench.Workload{{Name: "wc", Kind: faasbench.KindBatch, Target: "wordcount", Words: 4}}}
	res, err := (&faasbench.Runner{Spec: spec, Dir: t.TempDir()}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Calls[0]; c.Status != faasbench.StatusInvalid || !strings.Contains(c.Error, "not-the-one") {
		t.Fatalf("%+v", c)
	}
}

func TestSpecErrorsNameTheField(t *testing.T) {
	for spec, want := range map[string]string{
		"name: x\nworkloads: []": "no workloads",
		"name: x\nplatform: gcp\nworkloads: [{name: a, kind: batch}]":                                              `platform "gcp"`,
		"name: x\nworkloads: [{name: a, kind: burst, target: wordcount}]":                                          `kind "burst"`,
		"name: x\nworkloads: [{name: a, kind: batch, target: resize}]":                                             `target "resize"`,
		"name: x\nworkloads: [{name: a, kind: responsiveness, target: sleep}]":                                     "needs waits",
		"name: x\nplatform: http\nhttp: {proxy_url: http://p}\nworkloads: [{name: a, kind: batch, target: sleep}]": "http.targets.sleep",
		"name: x\nworkloads: [{name: a, kind: batch, target: sleep, bogus: 1}]":                                    "bogus",
	} {
		if _, err := faasbench.ParseSpec([]byte(spec)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %q", spec, err, want)
		}
	}
}

func TestWords(t *testing.T) {
	if got := faasbench.Words(4); got != "a b c d" {
		t.Fatalf("Words(4) = %q", got)
	}
	if n := len(strings.Fields(faasbench.Words(1000))); n != 1000 {
		t.Fatalf("Words(1000) has %d words", n)
	}
}

func TestShippedSpecsParse(t *testing.T) {
	for _, f := range []string{"specs/example.yaml", "specs/plain-http.yaml"} {
		if _, err := faasbench.LoadSpec(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
