package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"

	"github.com/faaslab/faaslab/scheduler/api"
)

// FunctionConfiguration is Lambda's FunctionConfiguration document, as the daemon sends it.
type FunctionConfiguration = api.FunctionConfiguration

// DefaultRole is the execution role faaslab functions get when none is given; the daemon
// does not check roles, Lambda's API requires one.
const DefaultRole = "arn:aws:iam::000000000000:role/faaslab"

// Environment is Lambda's Environment document.
type Environment struct {
	Variables map[string]string
}

// FunctionCode is CreateFunction's Code: a zip (sent base64-encoded, as encoding/json does
// for []byte) or an image.
type FunctionCode struct {
	ZipFile  []byte `json:",omitempty"`
	ImageUri string `json:",omitempty"`
}

// CreateFunctionRequest is CreateFunction's body. Runtime "faaslab" selects a built-in
// handler by Handler; "provided.al2023" runs the zip's bootstrap.
type CreateFunctionRequest struct {
	FunctionName string
	Runtime      string       `json:",omitempty"`
	Role         string       // DefaultRole when empty
	Handler      string       `json:",omitempty"`
	Description  string       `json:",omitempty"`
	MemorySize   int          `json:",omitempty"`
	Timeout      int          `json:",omitempty"`
	PackageType  string       `json:",omitempty"`
	Environment  *Environment `json:",omitempty"`
	Code         FunctionCode
}

// UpdateFunctionConfigurationRequest is UpdateFunctionConfiguration's body; nil fields stay.
type UpdateFunctionConfigurationRequest struct {
	MemorySize  *int         `json:",omitempty"`
	Timeout     *int         `json:",omitempty"`
	Environment *Environment `json:",omitempty"`
	Description *string      `json:",omitempty"`
	Handler     *string      `json:",omitempty"`
}

// FunctionsPath is the Lambda API's functions collection.
const FunctionsPath = "/2015-03-31/functions"

func functionPath(name string) string { return FunctionsPath + "/" + url.PathEscape(name) }

// CreateFunction creates a function and returns its configuration.
func (c *Client) CreateFunction(ctx context.Context, req CreateFunctionRequest) (FunctionConfiguration, error) {
	if req.Role == "" {
		req.Role = DefaultRole
	}
	return call[FunctionConfiguration](ctx, c, http.MethodPost, FunctionsPath, req)
}

// GetFunctionConfiguration returns a function's configuration.
func (c *Client) GetFunctionConfiguration(ctx context.Context, name string) (FunctionConfiguration, error) {
	return call[FunctionConfiguration](ctx, c, http.MethodGet, functionPath(name)+"/configuration", nil)
}

// GetFunction returns GetFunction's whole document (configuration, code location,
// concurrency) as generic JSON, for printing.
func (c *Client) GetFunction(ctx context.Context, name string) (map[string]any, error) {
	return call[map[string]any](ctx, c, http.MethodGet, functionPath(name), nil)
}

// ListFunctions returns every function's configuration.
func (c *Client) ListFunctions(ctx context.Context) ([]FunctionConfiguration, error) {
	var out struct{ Functions []FunctionConfiguration }
	err := c.do(ctx, http.MethodGet, FunctionsPath+"/", nil, &out)
	return out.Functions, err
}

// UpdateFunctionConfiguration changes the fields req sets.
func (c *Client) UpdateFunctionConfiguration(ctx context.Context, name string, req UpdateFunctionConfigurationRequest) (FunctionConfiguration, error) {
	return call[FunctionConfiguration](ctx, c, http.MethodPut, functionPath(name)+"/configuration", req)
}

// DeleteFunction deletes a function and stops its sandboxes.
func (c *Client) DeleteFunction(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, functionPath(name), nil, nil)
}

// PutFunctionConcurrency reserves concurrency for a function.
func (c *Client) PutFunctionConcurrency(ctx context.Context, name string, reserved int) error {
	body := struct{ ReservedConcurrentExecutions int }{reserved}
	return c.do(ctx, http.MethodPut, "/2017-10-31/functions/"+url.PathEscape(name)+"/concurrency", body, nil)
}

// Invocation types (X-Amz-Invocation-Type).
const (
	InvocationRequestResponse = "RequestResponse"
	InvocationEvent           = "Event"
	InvocationDryRun          = "DryRun"
)

// InvokeRequest is one invocation.
type InvokeRequest struct {
	FunctionName   string
	InvocationType string // InvocationRequestResponse when empty
	Payload        []byte
	TailLog        bool // ask for the last 4 KB of the log (X-Amz-Log-Type: Tail)
}

// InvokeResult is what Invoke answered.
type InvokeResult struct {
	Status        int
	Payload       []byte
	RequestID     string // x-amzn-RequestId: joins the invocation with the daemon's records
	FunctionError string // X-Amz-Function-Error: Unhandled or Handled when the function failed
	LogTail       string // decoded X-Amz-Log-Result
}

// Invoke runs a function. A function error is not an error here (see FunctionError);
// an API error (unknown function, throttling, bad request) is an *APIError.
func (c *Client) Invoke(ctx context.Context, req InvokeRequest) (InvokeResult, error) {
	header := http.Header{}
	if req.InvocationType != "" {
		header.Set("X-Amz-Invocation-Type", req.InvocationType)
	}
	if req.TailLog {
		header.Set("X-Amz-Log-Type", "Tail")
	}
	resp, data, err := c.send(ctx, http.MethodPost, functionPath(req.FunctionName)+"/invocations", bytes.NewReader(req.Payload), header)
	if err != nil {
		return InvokeResult{}, err
	}
	if resp.StatusCode >= 300 {
		return InvokeResult{}, decodeAPIError(resp, data)
	}
	res := InvokeResult{
		Status:        resp.StatusCode,
		Payload:       data,
		RequestID:     resp.Header.Get("X-Amzn-RequestId"),
		FunctionError: resp.Header.Get("X-Amz-Function-Error"),
	}
	if l := resp.Header.Get("X-Amz-Log-Result"); l != "" {
		if dec, err := base64.StdEncoding.DecodeString(l); err == nil {
			res.LogTail = string(dec)
		}
	}
	return res, nil
}
