package target

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/faaslab/faaslab/client"
	"github.com/faaslab/faaslab/internal/jsonl"
)

// HTTPHost is a daemon reached over HTTP, here or on another box.
type HTTPHost struct {
	c *client.Client
	// RecordsPath is the daemon's records file when it is readable from here ("" if not).
	RecordsPath string
}

// NewHTTPHost returns a host over c.
func NewHTTPHost(c *client.Client) *HTTPHost { return &HTTPHost{c: c} }

// ReportProgress forwards the experiment's progress to the daemon.
func (h *HTTPHost) ReportProgress(ctx context.Context, p client.ExperimentProgress) error {
	return h.c.ReportProgress(ctx, p)
}

// Name is the endpoint.
func (h *HTTPHost) Name() string { return h.c.Endpoint() }

// CreateFunction creates a built-in-handler function (an existing one of the name is
// replaced: a rerun after a crash may find it).
func (h *HTTPHost) CreateFunction(ctx context.Context, f Function) error {
	req := client.CreateFunctionRequest{FunctionName: f.Name, Runtime: "faaslab", Handler: f.Handler,
		MemorySize: f.MemoryMB, Timeout: f.TimeoutSec, Description: "faaslab experiment"}
	_, err := h.c.CreateFunction(ctx, req)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		if err := h.c.DeleteFunction(ctx, f.Name); err != nil {
			return err
		}
		_, err = h.c.CreateFunction(ctx, req)
	}
	return err
}

// DeleteFunction deletes a function and stops its sandboxes.
func (h *HTTPHost) DeleteFunction(ctx context.Context, name string) error {
	err := h.c.DeleteFunction(ctx, name)
	if client.IsNotFound(err) {
		return nil
	}
	return err
}

// Invoke runs a function synchronously.
func (h *HTTPHost) Invoke(ctx context.Context, name string, payload []byte) (client.InvokeResult, error) {
	return h.c.Invoke(ctx, client.InvokeRequest{FunctionName: name, Payload: payload})
}

// SetPolicy switches the shaping policy (and the NIC queue model under policy none).
func (h *HTTPHost) SetPolicy(ctx context.Context, p Policy) error {
	_, err := h.c.SetPolicy(ctx, client.PolicyDocument{Policy: p.Name, Strict: p.Strict, NIC: p.NIC, FixedRate: p.FixedRate, NICQueue: p.NICQueue})
	return err
}

// Sample reads the host's network counters.
func (h *HTTPHost) Sample(ctx context.Context) (client.NetworkSample, error) {
	return h.c.NetworkSample(ctx)
}

// IperfPool asks the daemon for n servers on its remote side (each serves one test and
// is respawned).
func (h *HTTPHost) IperfPool(ctx context.Context, n int) (IperfPool, error) {
	p, err := h.c.IperfPool(ctx, n)
	if client.IsNotFound(err) {
		return IperfPool{}, fmt.Errorf("%s: %w (POST %s answers 404: a daemon from before the services)", h.Name(), ErrNoIperfPool, client.IperfPath)
	}
	return IperfPool{Host: p.Host, Ports: p.Ports}, err
}

// noS3Store reports whether a data route's err says the daemon has no embedded S3 store:
// 409 Conflict (the data routes of this daemon without one) or 404 (a daemon without the
// data routes at all).
func noS3Store(err error) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusNotFound)
}

// DataSet ensures the first count objects of a chunk set are in the store and lists
// them. A daemon without the S3 store (409, or 404 from one without the data routes) is
// ErrNoS3Store, at once, rather than a hang later.
func (h *HTTPHost) DataSet(ctx context.Context, name string, count int) (DataSet, error) {
	m, err := h.c.DataSets(ctx)
	if noS3Store(err) {
		return DataSet{}, fmt.Errorf("%s: %w (%v)", h.Name(), ErrNoS3Store, err)
	}
	if err != nil {
		return DataSet{}, fmt.Errorf("read the dataset manifest: %w", err)
	}
	set, err := h.c.EnsureDataSet(ctx, name, count)
	if noS3Store(err) {
		return DataSet{}, fmt.Errorf("%s: %w (%v)", h.Name(), ErrNoS3Store, err)
	}
	if err != nil {
		return DataSet{}, fmt.Errorf("ensure data set %s (%d objects): %w", name, count, err)
	}
	out := DataSet{Bucket: m.Bucket, Name: set.Name, ObjectBytes: set.ObjectBytes}
	for _, o := range set.Objects {
		out.Objects = append(out.Objects, Object{Key: o.Key, Bytes: o.Bytes, SHA256: o.SHA256})
	}
	if len(out.Objects) == 0 {
		return out, fmt.Errorf("data set %s has no objects after it was ensured", name)
	}
	return out, nil
}

// Records reads the daemon's records file when it is on this machine.
func (h *HTTPHost) Records(ctx context.Context) (map[string]DaemonRecord, error) {
	if h.RecordsPath == "" {
		return nil, ErrNoRecords
	}
	f, err := os.Open(h.RecordsPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoRecords, err)
	}
	defer f.Close()
	out := map[string]DaemonRecord{}
	err = jsonl.ReadLines(f, h.RecordsPath, func(r DaemonRecord) {
		if r.RequestID != "" {
			out[r.RequestID] = r
		}
	})
	return out, err
}

// DeleteUploads removes run's uploads from the daemon's store (ErrNoS3Store without one).
func (h *HTTPHost) DeleteUploads(ctx context.Context, run string) error {
	err := h.c.DeleteUploads(ctx, run)
	if noS3Store(err) {
		return fmt.Errorf("%s: %w (%v)", h.Name(), ErrNoS3Store, err)
	}
	return err
}
