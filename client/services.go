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
	var out ServicesStatus
	err := c.do(ctx, http.MethodGet, ServicesPath, nil, &out)
	return out, err
}

// IperfPool makes at least n iperf3 servers run on the remote side and returns their
// address and the first n ports (one per concurrent client). Each server serves one
// test, then is respawned.
func (c *Client) IperfPool(ctx context.Context, n int) (IperfServers, error) {
	var out IperfServers
	err := c.do(ctx, http.MethodPost, IperfPath, services.IperfRequest{Count: n}, &out)
	return out, err
}

// DataSets reads the manifest of generated data.
func (c *Client) DataSets(ctx context.Context) (DataManifest, error) {
	var out DataManifest
	err := c.do(ctx, http.MethodGet, DataPath, nil, &out)
	return out, err
}

// EnsureDataSet generates (once) the first count objects of set (10mb, 20mb, 50mb, 100mb,
// 200mb; count 0 = 1 GB worth) and places them in the data bucket.
func (c *Client) EnsureDataSet(ctx context.Context, set string, count int) (DataSet, error) {
	var out DataSet
	err := c.do(ctx, http.MethodPost, DataPath+"/"+url.PathEscape(set), dataset.EnsureRequest{Count: count}, &out)
	return out, err
}
