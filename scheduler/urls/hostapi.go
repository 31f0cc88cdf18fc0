package urls

import (
	"encoding/json"
	"net/http"
)

// URLInfo is a function URL as the host API reports it: both addresses it is served on.
type URLInfo struct {
	FunctionName       string
	FunctionUrl        string // from the host (loopback)
	SandboxFunctionUrl string // from inside a sandbox (the bridge's gateway address)
	AuthType           string
}

// RegisterHostAPI adds faaslab's own routes about function URLs (not Lambda's API):
//
//	GET /faaslab/v1/function-urls/{name}                  URLInfo
//	GET /faaslab/v1/function-urls/invocations/{requestId} Invocation (record + gateway timeout)
func RegisterHostAPI(mux *http.ServeMux, s *Store, recent *Recent) {
	mux.HandleFunc("GET /faaslab/v1/function-urls/{name}", MakeURLInfoHandler(s))
	mux.HandleFunc("GET /faaslab/v1/function-urls/invocations/{id}", MakeInvocationHandler(recent))
}

// MakeURLInfoHandler answers a function's URLs, 404 if it has none.
func MakeURLInfoHandler(s *Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.Get(r.PathValue("name"))
		if !ok {
			writeMessage(w, http.StatusNotFound, "function "+r.PathValue("name")+" has no URL")
			return
		}
		writeJSON(w, URLInfo{FunctionName: c.Function, FunctionUrl: s.FunctionURL(c),
			SandboxFunctionUrl: s.SandboxURL(c), AuthType: c.AuthType})
	}
}

// MakeInvocationHandler answers how a URL invocation ended; 404 when unknown (or too old).
func MakeInvocationHandler(recent *Recent) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		inv, ok := recent.Get(r.PathValue("id"))
		if !ok {
			writeMessage(w, http.StatusNotFound, "no recent URL invocation "+r.PathValue("id"))
			return
		}
		writeJSON(w, inv)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
