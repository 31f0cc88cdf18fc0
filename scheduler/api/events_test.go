package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/scheduler/api"
	"github.com/faaslab/faaslab/scheduler/schedulertest"
)

func call(t *testing.T, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestReservedConcurrencyThrottlesOverHTTP: reserved concurrency 1 and two concurrent
// sync calls → one answers 429 TooManyRequestsException, Reason
// ReservedFunctionConcurrentInvocationLimitExceeded, "Rate Exceeded.".
func TestReservedConcurrencyThrottlesOverHTTP(t *testing.T) {
	srv, _, fake := newGuardedAPI(t, api.Limits{})
	entered, release := make(chan struct{}, 2), make(chan struct{})
	fake.Handler = func(ctx context.Context, _ *schedulertest.Sandbox, inv runtime.Invocation) (runtime.Response, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return runtime.Response{Payload: inv.Payload}, nil
	}
	if r, b := call(t, "POST", srv.URL+"/2015-03-31/functions", `{"FunctionName":"rc","Runtime":"faaslab","Handler":"echo"}`); r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, b)
	}
	if r, b := call(t, "PUT", srv.URL+"/2017-10-31/functions/rc/concurrency", `{"ReservedConcurrentExecutions":1}`); r.StatusCode != 200 {
		t.Fatalf("concurrency: %d %s", r.StatusCode, b)
	}
	statuses := make(chan int, 2)
	go func() {
		r, _ := call(t, "POST", srv.URL+"/2015-03-31/functions/rc/invocations", `{}`)
		statuses <- r.StatusCode
	}()
	<-entered // the first call holds the only slot
	r, b := call(t, "POST", srv.URL+"/2015-03-31/functions/rc/invocations", `{}`)
	close(release)
	var doc struct{ Type, Message, Reason string }
	json.Unmarshal(b, &doc)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("X-Amzn-Errortype") != "TooManyRequestsException" ||
		doc.Reason != "ReservedFunctionConcurrentInvocationLimitExceeded" || doc.Message != "Rate Exceeded." || doc.Type != "User" {
		t.Fatalf("second call: %d %s %s, want 429 TooManyRequestsException", r.StatusCode, r.Header.Get("X-Amzn-Errortype"), b)
	}
	if s := <-statuses; s != 200 {
		t.Errorf("first call: %d, want 200", s)
	}
}

func TestFunctionEventInvokeConfigWire(t *testing.T) {
	srv, _, _ := newGuardedAPI(t, api.Limits{})
	base := srv.URL + "/2019-09-25/functions/ev/event-invoke-config"
	if r, b := call(t, "POST", srv.URL+"/2015-03-31/functions", `{"FunctionName":"ev","Runtime":"faaslab","Handler":"echo"}`); r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, b)
	}
	if r, _ := call(t, "GET", base, ""); r.StatusCode != 404 || r.Header.Get("X-Amzn-Errortype") != "ResourceNotFoundException" {
		t.Errorf("GET before PUT: %d %s", r.StatusCode, r.Header.Get("X-Amzn-Errortype"))
	}
	// Update does not create a config, and a call setting nothing is refused, as on Lambda.
	r, b := call(t, "POST", base, `{"MaximumRetryAttempts":1}`)
	if r.StatusCode != 404 || r.Header.Get("X-Amzn-Errortype") != "ResourceNotFoundException" ||
		!strings.Contains(string(b), `:function:ev:$LATEST doesn't have an EventInvokeConfig`) {
		t.Errorf("POST (update) before PUT: %d %s, want 404 naming ev:$LATEST", r.StatusCode, b)
	}
	for _, method := range []string{"PUT", "POST"} {
		r, b = call(t, method, base, `{}`)
		if r.StatusCode != 400 || r.Header.Get("X-Amzn-Errortype") != "InvalidParameterValueException" ||
			!strings.Contains(string(b), "You must specify at least one of error handling or destination setting.") {
			t.Errorf("%s with no field: %d %s, want 400 InvalidParameterValueException", method, r.StatusCode, b)
		}
	}
	r, b = call(t, "PUT", base, `{"MaximumRetryAttempts":1,"MaximumEventAgeInSeconds":120}`)
	var doc map[string]any
	json.Unmarshal(b, &doc)
	if r.StatusCode != 200 || doc["MaximumRetryAttempts"] != 1.0 || doc["MaximumEventAgeInSeconds"] != 120.0 ||
		!strings.HasSuffix(doc["FunctionArn"].(string), ":function:ev:$LATEST") || doc["LastModified"].(float64) < 1e9 {
		t.Fatalf("PUT: %d %s", r.StatusCode, b)
	}
	r, b = call(t, "POST", base, `{"MaximumRetryAttempts":0}`) // Update: the age stays
	if r.StatusCode != 200 || !strings.Contains(string(b), `"MaximumRetryAttempts":0`) || !strings.Contains(string(b), `"MaximumEventAgeInSeconds":120`) {
		t.Fatalf("POST (update): %d %s", r.StatusCode, b)
	}
	if r, b := call(t, "GET", base, ""); r.StatusCode != 200 || !strings.Contains(string(b), `"MaximumRetryAttempts":0`) {
		t.Errorf("GET: %d %s", r.StatusCode, b)
	}
	if r, b := call(t, "PUT", base, `{"MaximumRetryAttempts":3}`); r.StatusCode != 400 || !strings.Contains(string(b), "MaximumRetryAttempts") {
		t.Errorf("PUT retries 3: %d %s, want 400 naming the field", r.StatusCode, b)
	}
	if r, _ := call(t, "DELETE", base, ""); r.StatusCode != 204 {
		t.Errorf("DELETE: %d", r.StatusCode)
	}
	if r, _ := call(t, "GET", base, ""); r.StatusCode != 404 {
		t.Errorf("GET after DELETE: %d", r.StatusCode)
	}
}
