// Package httpjson writes the daemon's own (non-Lambda) JSON answers: the host API's
// documents and its {"message": ...} errors.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers status with v as JSON.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Error answers status with {"message": err}.
func Error(w http.ResponseWriter, status int, err error) {
	Write(w, status, map[string]string{"message": err.Error()})
}
