package services

import (
	"encoding/json"
	"net/http"
)

// Status is GET /faaslab/v1/services.
type Status struct {
	S3     StoreStatus     `json:"s3"`
	Iperf3 IperfPoolStatus `json:"iperf3"`
}

// IperfRequest is POST /faaslab/v1/services/iperf3.
type IperfRequest struct {
	Count int `json:"count"`
}

// IperfResponse: the servers' address and ports, one per concurrent client.
type IperfResponse struct {
	Host  string `json:"host"`
	Ports []int  `json:"ports"`
}

// MakeServicesHandler serves GET /faaslab/v1/services.
func MakeServicesHandler(store *Store, pool *IperfPool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Status{S3: store.Status(), Iperf3: pool.Status()})
	}
}

// MakeIperfPoolHandler serves POST /faaslab/v1/services/iperf3 {"count": N}.
func MakeIperfPoolHandler(pool *IperfPool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req IperfRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		host, ports, err := pool.Ensure(req.Count)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, IperfResponse{Host: host.String(), Ports: ports})
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
