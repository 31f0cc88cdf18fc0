package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// validateURLRequest answers Lambda's error type and message for each bad AuthType or
// InvokeMode, and lets valid requests through (AuthType may be absent on update only).
func TestValidateURLRequest(t *testing.T) {
	for _, tc := range []struct {
		name             string
		req              functionUrlRequest
		create           bool
		wantType, inBody string // wantType "" = valid
	}{
		{"create NONE", functionUrlRequest{AuthType: "NONE"}, true, "", ""},
		{"update without AuthType", functionUrlRequest{InvokeMode: "BUFFERED"}, false, "", ""},
		{"create without AuthType", functionUrlRequest{}, true, "ValidationException", "Value null at 'authType' failed to satisfy constraint: Member must not be null"},
		{"AWS_IAM", functionUrlRequest{AuthType: "AWS_IAM"}, false, "InvalidParameterValueException", "AuthType AWS_IAM is not supported"},
		{"bad AuthType", functionUrlRequest{AuthType: "x"}, true, "ValidationException", "Value 'x' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_IAM, NONE]"},
		{"RESPONSE_STREAM", functionUrlRequest{AuthType: "NONE", InvokeMode: "RESPONSE_STREAM"}, true, "InvalidParameterValueException", "InvokeMode RESPONSE_STREAM is not supported"},
		{"bad InvokeMode", functionUrlRequest{InvokeMode: "y"}, false, "ValidationException", "Value 'y' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ok := validateURLRequest(w, &tc.req, tc.create)
			if ok != (tc.wantType == "") {
				t.Fatalf("valid = %v, want %v (answer %d %s)", ok, tc.wantType == "", w.Code, w.Body)
			}
			if ok {
				return
			}
			if w.Code != http.StatusBadRequest || w.Header().Get("X-Amzn-Errortype") != tc.wantType || !strings.Contains(w.Body.String(), tc.inBody) {
				t.Errorf("answer %d %s %s, want 400 %s containing %q", w.Code, w.Header().Get("X-Amzn-Errortype"), w.Body, tc.wantType, tc.inBody)
			}
		})
	}
}
