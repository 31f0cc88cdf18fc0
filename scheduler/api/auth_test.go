package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAccess(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	a := Access{
		Token: "s3cret",
		Open:  func(r *http.Request) bool { return r.URL.Path == "/metrics" },
		Deny:  []netip.Prefix{netip.MustParsePrefix("10.216.0.0/16")},
	}
	h := a.Wrap(ok)
	cases := []struct {
		path, from, auth string
		status           int
		errType          string
	}{
		{"/2015-03-31/functions", "127.0.0.1:5000", "", 401, "UnrecognizedClientException"},
		{"/2015-03-31/functions", "127.0.0.1:5000", "Bearer wrong", 401, "UnrecognizedClientException"},
		{"/2015-03-31/functions", "127.0.0.1:5000", "Basic s3cret", 401, "UnrecognizedClientException"},
		{"/2015-03-31/functions", "127.0.0.1:5000", "Bearer s3cret", 200, ""},
		{"/metrics", "127.0.0.1:5000", "", 200, ""},
		{"/2015-03-31/functions", "10.216.0.7:5000", "Bearer s3cret", 403, "AccessDeniedException"},
		{"/metrics", "10.216.0.7:5000", "", 403, "AccessDeniedException"},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", c.path, nil)
		req.RemoteAddr = c.from
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status || rec.Header().Get("X-Amzn-ErrorType") != c.errType {
			t.Errorf("%s from %s with %q: %d %q, want %d %q", c.path, c.from, c.auth, rec.Code, rec.Header().Get("X-Amzn-ErrorType"), c.status, c.errType)
		}
		if c.status != 200 {
			var doc map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["Type"] != "User" || doc["message"] == "" {
				t.Errorf("%s: error body %q is not Lambda's shape", c.path, rec.Body)
			}
		}
	}
	// No token configured: everything but denied networks passes.
	if rec := httptest.NewRecorder(); true {
		(Access{}).Wrap(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		if rec.Code != 200 {
			t.Errorf("no token: %d", rec.Code)
		}
	}
}
