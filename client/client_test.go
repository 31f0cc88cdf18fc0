package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A fake daemon answering the way scheduler/api does; the client's job is the wire format.
func fakeDaemon(t *testing.T) *Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("create body: %v", err)
		}
		if req["Role"] != DefaultRole || req["FunctionName"] != "fn" {
			t.Errorf("create body %v: want FunctionName fn and the default role", req)
		}
		if code, _ := req["Code"].(map[string]any); code["ZipFile"] != base64.StdEncoding.EncodeToString([]byte("PK")) {
			t.Errorf("Code %v: want ZipFile base64", req["Code"])
		}
		json.NewEncoder(w).Encode(map[string]any{"FunctionName": "fn", "MemorySize": 256})
	})
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "missing" {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"Type":"User","Message":"Function not found: missing"}`)
			return
		}
		if r.Header.Get("X-Amz-Invocation-Type") != "Event" || r.Header.Get("X-Amz-Log-Type") != "Tail" {
			t.Errorf("invoke headers %v", r.Header)
		}
		w.Header().Set("X-Amzn-RequestId", "req-1")
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.Header().Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte("REPORT")))
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	})
	mux.HandleFunc("PUT /faaslab/v1/network/policy", func(w http.ResponseWriter, r *http.Request) {
		var doc PolicyDocument
		json.NewDecoder(r.Body).Decode(&doc)
		if doc.Policy == "bogus" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"message":"unknown policy \"bogus\""}`)
			return
		}
		doc.NICBitsPerSec = 560e6
		json.NewEncoder(w).Encode(doc)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return New(srv.URL + "/")
}

func TestCreateFunctionSendsLambdaShape(t *testing.T) {
	c := fakeDaemon(t)
	cfg, err := c.CreateFunction(context.Background(), CreateFunctionRequest{FunctionName: "fn", Code: FunctionCode{ZipFile: []byte("PK")}})
	if err != nil || cfg.FunctionName != "fn" || cfg.MemorySize != 256 {
		t.Fatalf("CreateFunction = %+v, %v", cfg, err)
	}
}

func TestInvokeKeepsRequestIDErrorAndLog(t *testing.T) {
	c := fakeDaemon(t)
	res, err := c.Invoke(context.Background(), InvokeRequest{FunctionName: "fn", InvocationType: InvocationEvent, Payload: []byte(`{"a":1}`), TailLog: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequestID != "req-1" || res.FunctionError != "Unhandled" || res.LogTail != "REPORT" || string(res.Payload) != `{"a":1}` {
		t.Errorf("Invoke = %+v", res)
	}
}

func TestAPIErrorsAreTyped(t *testing.T) {
	c := fakeDaemon(t)
	_, err := c.Invoke(context.Background(), InvokeRequest{FunctionName: "missing"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Type != "ResourceNotFoundException" || ae.Message != "Function not found: missing" || !IsNotFound(err) {
		t.Errorf("missing function: %#v", err)
	}
	_, err = c.SetPolicy(context.Background(), PolicyDocument{Policy: "bogus"})
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Message != `unknown policy "bogus"` || IsNotFound(err) {
		t.Errorf("bad policy: %#v", err)
	}
	doc, err := c.SetPolicy(context.Background(), PolicyDocument{Policy: "equal"})
	if err != nil || doc.Policy != "equal" || doc.NICBitsPerSec != 560e6 {
		t.Errorf("SetPolicy = %+v, %v", doc, err)
	}
}

func TestUnreachableDaemonNamesEndpoint(t *testing.T) {
	c := New("http://127.0.0.1:1")
	_, err := c.ListFunctions(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is the daemon running at http://127.0.0.1:1") {
		t.Errorf("ListFunctions on a closed port: %v", err)
	}
}
