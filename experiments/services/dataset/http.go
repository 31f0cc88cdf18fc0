package dataset

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// EnsureRequest is POST /faaslab/v1/data/{set}: {"count": N} (0 or absent: the set's
// default, 1 GB in total).
type EnsureRequest struct {
	Count int `json:"count"`
}

// MakeListHandler serves GET /faaslab/v1/data: the manifest.
func MakeListHandler(c *Cache) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := c.Manifest()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
	}
}

// MakeEnsureHandler serves POST /faaslab/v1/data/{set}: generate (once) and place the set.
// Generating 1 GB takes seconds; the request waits for it.
func MakeEnsureHandler(c *Cache) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req EnsureRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		sm, err := c.Ensure(r.PathValue("set"), req.Count)
		switch {
		case errors.Is(err, ErrNoSpace):
			writeError(w, http.StatusInsufficientStorage, err)
		case err != nil:
			writeError(w, http.StatusBadRequest, err)
		default:
			writeJSON(w, http.StatusOK, sm)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"message": err.Error()})
}
