package services

import (
	"encoding/json"
	"net/http"

	"github.com/faaslab/faaslab/experiments/services/wan"
	"github.com/faaslab/faaslab/internal/httpjson"
)

// Status is GET /faaslab/v1/services.
type Status struct {
	S3     StoreStatus     `json:"s3"`
	Iperf3 IperfPoolStatus `json:"iperf3"`
	WAN    wan.Status      `json:"wan"` // the WAN model between functions and the store
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
		httpjson.Write(w, http.StatusOK, Status{S3: store.Status(), Iperf3: pool.Status(), WAN: store.WAN()})
	}
}

// MakeIperfPoolHandler serves POST /faaslab/v1/services/iperf3 {"count": N}.
func MakeIperfPoolHandler(pool *IperfPool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req IperfRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&req); err != nil {
			httpjson.Error(w, http.StatusBadRequest, err)
			return
		}
		host, ports, err := pool.Ensure(req.Count)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err)
			return
		}
		httpjson.Write(w, http.StatusOK, IperfResponse{Host: host.String(), Ports: ports})
	}
}
