package progress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/faaslab/faaslab/internal/httpjson"
)

// MakeHandler serves the progress on the host API: GET returns State, PUT replaces it
// with the State in the body (what a runner in another process calls after every trial).
func MakeHandler(p *Progress) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut:
			var s State
			dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				httpjson.Error(w, http.StatusBadRequest, fmt.Errorf("progress body: %w", err))
				return
			}
			if err := p.Set(s); err != nil {
				httpjson.Error(w, http.StatusBadRequest, err)
				return
			}
		default:
			w.Header().Set("Allow", "GET, PUT")
			httpjson.Error(w, http.StatusMethodNotAllowed, errors.New("method not allowed"))
			return
		}
		httpjson.Write(w, http.StatusOK, p.State())
	}
}
