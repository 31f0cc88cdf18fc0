package api

import (
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"
)

// Access guards the management listener (Lambda API, host API, /metrics).
type Access struct {
	// Token, when set, must come as "Authorization: Bearer <Token>" on every request.
	Token string
	// Open lets a request through without the token (e.g. GET /metrics left open).
	Open func(*http.Request) bool
	// Deny refuses requests from these source networks whatever they carry: the sandbox
	// subnet, so a function can never drive the host that runs it.
	Deny []netip.Prefix
}

// Wrap returns next behind a. Refusals use Lambda's error shape: 401
// UnrecognizedClientException without a valid token, 403 AccessDeniedException from a
// denied network.
func (a Access) Wrap(next http.Handler) http.Handler {
	token := []byte(a.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.denied(r) {
			setRequestID(w)
			writeError(w, http.StatusForbidden, "AccessDeniedException",
				"The management API is not reachable from function sandboxes.")
			return
		}
		if len(token) > 0 && !(a.Open != nil && a.Open(r)) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), token) != 1 {
				setRequestID(w)
				w.Header().Set("WWW-Authenticate", `Bearer realm="faaslab"`)
				writeError(w, http.StatusUnauthorized, "UnrecognizedClientException",
					"The security token included in the request is invalid: send Authorization: Bearer <token> (the daemon's auth.token_file).")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (a Access) denied(r *http.Request) bool {
	if len(a.Deny) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range a.Deny {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
