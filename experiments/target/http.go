package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/faaslab/faaslab/client"
)

// Host API paths of the services (S3 store, dataset, iperf3 pool). The client package
// will carry them; until then HTTPHost calls them itself.
const (
	iperfPoolPath = "/faaslab/v1/services/iperf3"
	dataPath      = "/faaslab/v1/data"
)

// HTTPHost is a daemon reached over HTTP, here or on another box.
type HTTPHost struct {
	c *client.Client
	// RecordsPath is the daemon's records file when it is readable from here ("" if not).
	RecordsPath string
	// LocalIperf starts iperf3 servers in the daemon's remote netns when the daemon has
	// no pool of its own (nil for a remote daemon).
	LocalIperf *LocalIperf
	http       *http.Client // for the services' paths the client does not carry yet
}

// NewHTTPHost returns a host over c.
func NewHTTPHost(c *client.Client) *HTTPHost { return &HTTPHost{c: c, http: http.DefaultClient} }

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

// SetPolicy switches the shaping policy. nic_queue is not in the host API's policy
// document yet: asking for one is ErrUnsupported rather than silently ignored.
func (h *HTTPHost) SetPolicy(ctx context.Context, p Policy) error {
	if p.NICQueue != "" {
		return fmt.Errorf("nic_queue %q: %w (the policy document has no nic_queue field yet)", p.NICQueue, ErrUnsupported)
	}
	_, err := h.c.SetPolicy(ctx, client.PolicyDocument{Policy: p.Name, Strict: p.Strict, NIC: p.NIC, FixedRate: p.FixedRate})
	return err
}

// Sample reads the host's network counters.
func (h *HTTPHost) Sample(ctx context.Context) (client.NetworkSample, error) {
	return h.c.NetworkSample(ctx)
}

// IperfPool asks the daemon for n servers (POST /faaslab/v1/services/iperf3); a daemon
// without the pool falls back to servers started here in its remote namespace.
func (h *HTTPHost) IperfPool(ctx context.Context, n int) (IperfPool, error) {
	var pool IperfPool
	status, err := h.call(ctx, http.MethodPost, iperfPoolPath, map[string]int{"count": n}, &pool)
	if err == nil {
		return pool, nil
	}
	if status == http.StatusNotFound && h.LocalIperf != nil {
		return h.LocalIperf.Pool(ctx, n)
	}
	if status == http.StatusNotFound {
		return pool, fmt.Errorf("%w: %s answers 404 for %s and is not on this machine", ErrNoIperfPool, h.Name(), iperfPoolPath)
	}
	return pool, err
}

// DataSet reads the dataset manifest (GET /faaslab/v1/data) and, when the set is missing,
// ensures it (POST /faaslab/v1/data/{set}) and reads again. A daemon without the S3 store
// answers 404: ErrNoS3Store, at once, rather than a hang later.
func (h *HTTPHost) DataSet(ctx context.Context, name string) (DataSet, error) {
	set, status, err := h.findSet(ctx, name)
	if status == http.StatusNotFound {
		return DataSet{}, fmt.Errorf("%s: %w", h.Name(), ErrNoS3Store)
	}
	if err != nil || len(set.Objects) > 0 {
		return set, err
	}
	if _, err := h.call(ctx, http.MethodPost, dataPath+"/"+url.PathEscape(name), nil, nil); err != nil {
		return DataSet{}, fmt.Errorf("ensure data set %s: %w", name, err)
	}
	if set, _, err = h.findSet(ctx, name); err == nil && len(set.Objects) == 0 {
		err = fmt.Errorf("data set %s has no objects after it was ensured", name)
	}
	return set, err
}

func (h *HTTPHost) findSet(ctx context.Context, name string) (DataSet, int, error) {
	var doc struct {
		Bucket string    `json:"bucket"`
		Sets   []DataSet `json:"sets"`
	}
	status, err := h.call(ctx, http.MethodGet, dataPath, nil, &doc)
	if err != nil {
		return DataSet{}, status, fmt.Errorf("read the dataset manifest: %w", err)
	}
	for _, s := range doc.Sets {
		if s.Name == name {
			s.Bucket = doc.Bucket
			return s, status, nil
		}
	}
	return DataSet{}, status, nil
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
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r DaemonRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.RequestID != "" {
			out[r.RequestID] = r
		}
	}
	return out, sc.Err()
}

// call sends a host API request and decodes the answer; it returns the status so callers
// can tell "this daemon lacks the endpoint" (404) from other failures.
func (h *HTTPHost) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.c.Endpoint()+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}
