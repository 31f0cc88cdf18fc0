package progress

import (
	"encoding/json"
	"io"
	"net/http"
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
				http.Error(w, "progress body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := p.Set(s); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		default:
			w.Header().Set("Allow", "GET, PUT")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p.State())
	}
}
