package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/faaslab/faaslab/experiments/services"
	"github.com/faaslab/faaslab/experiments/services/dataset"
)

// Routes of the services API.
const (
	ServicesPath = "/faaslab/v1/services"
	IperfPath    = "/faaslab/v1/services/iperf3"
	DataPath     = "/faaslab/v1/data"
)

// Wire types of the services API (defined by the packages that serve them).
type (
	ServicesStatus = services.Status
	IperfServers   = services.IperfResponse
	DataManifest   = dataset.Manifest
	DataSet        = dataset.SetManifest
	DataObject     = dataset.Object
)

// Services reads the object store's and the iperf3 pool's state.
func (c *Client) Services(ctx context.Context) (ServicesStatus, error) {
	return call[ServicesStatus](ctx, c, http.MethodGet, ServicesPath, nil)
}

// IperfPool makes at least n iperf3 servers run on the remote side and returns their
// address and the first n ports (one per concurrent client). Each server serves one
// test, then is respawned.
func (c *Client) IperfPool(ctx context.Context, n int) (IperfServers, error) {
	return call[IperfServers](ctx, c, http.MethodPost, IperfPath, services.IperfRequest{Count: n})
}

// DataSets reads the manifest of generated data.
func (c *Client) DataSets(ctx context.Context) (DataManifest, error) {
	return call[DataManifest](ctx, c, http.MethodGet, DataPath, nil)
}

// DeleteUploads removes what experiment run's put workloads uploaded to the data bucket.
func (c *Client) DeleteUploads(ctx context.Context, run string) error {
	return c.do(ctx, http.MethodDelete, DataPath+"/uploads/"+url.PathEscape(run), nil, nil)
}

// EnsureDataSet generates (once) the first count objects of set (10mb, 20mb, 50mb, 100mb,
// 200mb; count 0 = 1 GB worth) and places them in the data bucket.
func (c *Client) EnsureDataSet(ctx context.Context, set string, count int) (DataSet, error) {
	return call[DataSet](ctx, c, http.MethodPost, DataPath+"/"+url.PathEscape(set), dataset.EnsureRequest{Count: count})
}
