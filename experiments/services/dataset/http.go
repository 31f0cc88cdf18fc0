package dataset

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/faaslab/faaslab/internal/httpjson"
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
			httpjson.Error(w, http.StatusInternalServerError, err)
			return
		}
		httpjson.Write(w, http.StatusOK, m)
	}
}

// MakeEnsureHandler serves POST /faaslab/v1/data/{set}: generate (once) and place the set.
// Generating 1 GB takes seconds; the request waits for it. 200 with the set; 400 for a bad
// set or count; 409 without an embedded store (as DELETE …/uploads); 507 without the disk
// space.
func MakeEnsureHandler(c *Cache) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req EnsureRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			httpjson.Error(w, http.StatusBadRequest, err)
			return
		}
		sm, err := c.Ensure(r.PathValue("set"), req.Count)
		switch {
		case errors.Is(err, ErrNoSpace):
			httpjson.Error(w, http.StatusInsufficientStorage, err)
		case errors.Is(err, ErrNoBuckets):
			httpjson.Error(w, http.StatusConflict, err)
		case err != nil:
			httpjson.Error(w, http.StatusBadRequest, err)
		default:
			httpjson.Write(w, http.StatusOK, sm)
		}
	}
}

// MakeDeleteUploadsHandler serves DELETE /faaslab/v1/data/uploads/{run}: 204 when the run's
// uploads are gone (or there were none), 400 for a bad run id, 409 without an embedded store.
func MakeDeleteUploadsHandler(c *Cache) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := c.DeleteUploads(r.PathValue("run"))
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.Is(err, ErrNoBuckets):
			httpjson.Error(w, http.StatusConflict, err)
		default:
			httpjson.Error(w, http.StatusBadRequest, err)
		}
	}
}
