package httpjson

import (
	"errors"
	"net/http/httptest"
	"testing"
)

func TestErrorIsAMessageDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	Error(rec, 418, errors.New("no coffee"))
	if rec.Code != 418 || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != "{\"message\":\"no coffee\"}\n" {
		t.Errorf("Error wrote %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}
