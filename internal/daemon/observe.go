package daemon

// Observability routes of the daemon beside the host API:
//
//	GET /faaslab/v1/experiment/progress   the experiment progress the runner reported
//	PUT /faaslab/v1/experiment/progress   {"spec":"fig5","total":26,"done":3,"eta_seconds":120}
//
// The runner drives the daemon over HTTP only, so it reports its progress here and one
// Prometheus scrape of /metrics shows both the host and the run.

import (
	"net/http"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/experiments/progress"
)

func registerObserveAPI(mux *http.ServeMux, d *Daemon) {
	h := progress.MakeHandler(d.progress)
	mux.HandleFunc("GET "+client.ExperimentProgressPath, h)
	mux.HandleFunc("PUT "+client.ExperimentProgressPath, h)
}
