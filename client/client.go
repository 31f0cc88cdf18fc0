// Package client speaks to a faaslab daemon over HTTP: the Lambda API subset it serves
// (as the aws CLI would) and its own host API under /faaslab/v1/. The CLI, the experiment
// runner and faasbench use it; it works against a daemon on this box or on another one.
//
// The host API's wire types live here too, so the daemon and every consumer share one
// definition of each document.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultEndpoint is where `faaslab daemon` listens unless told otherwise.
const DefaultEndpoint = "http://127.0.0.1:3001"

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	endpoint string // e.g. http://127.0.0.1:3001, no trailing slash
	http     *http.Client
	token    string // sent as Authorization: Bearer (a daemon listening beyond loopback)
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (timeouts, transports, tracing).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithBearerToken sends "Authorization: Bearer token" on every request, as a daemon with
// auth.token_file requires.
func WithBearerToken(token string) Option { return func(c *Client) { c.token = token } }

// ReadTokenFile reads an API token file: the token, surrounding white space trimmed. The
// daemon reads its auth.token_file with it too, so both sides agree on the format.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return token, nil
}

// New returns a client of the daemon at endpoint (scheme and host, e.g.
// http://127.0.0.1:3001). Requests time out after 16 minutes: a synchronous invocation
// may run for Lambda's 15-minute maximum.
func New(endpoint string, opts ...Option) *Client {
	c := &Client{endpoint: strings.TrimRight(endpoint, "/"), http: &http.Client{Timeout: 16 * time.Minute}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Endpoint is the daemon's base URL.
func (c *Client) Endpoint() string { return c.endpoint }

// APIError is an error answer of the daemon: Lambda's error document plus the
// X-Amzn-ErrorType header (empty for host API errors).
type APIError struct {
	Status  int
	Type    string
	Message string
}

func (e *APIError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s (HTTP %d): %s", e.Type, e.Status, e.Message)
}

// IsNotFound reports whether err is the daemon saying the resource does not exist.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// call is do for a JSON answer of type T.
func call[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	var out T
	err := c.do(ctx, method, path, body, &out)
	return out, err
}

// do sends body (JSON-encoded unless nil) and decodes a JSON answer into out (unless nil).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	resp, data, err := c.send(ctx, method, path, rd, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return decodeAPIError(resp, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// send makes one request and reads the whole answer.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, header http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("is the daemon running at %s? %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	return resp, data, nil
}

// decodeAPIError reads Lambda's error document ({"message"} or {"Message","Type"}) or the
// host API's ({"message"}); a body that is neither becomes the message as it is.
func decodeAPIError(resp *http.Response, data []byte) error {
	var doc struct {
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(data, &doc) // not JSON: the raw body below says what happened
	msg := doc.Message
	if msg == "" {
		msg = doc.MessageU
	}
	if msg == "" {
		msg = strings.TrimSpace(string(data))
	}
	return &APIError{Status: resp.StatusCode, Type: resp.Header.Get("X-Amzn-ErrorType"), Message: msg}
}
