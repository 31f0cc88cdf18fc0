package client

import (
	"context"
	"net/url"

	"github.com/faaslab/faaslab/scheduler/api"
	"github.com/faaslab/faaslab/scheduler/urls"
)

// FunctionUrlConfig is Lambda's function URL document.
type FunctionUrlConfig = api.FunctionUrlConfig

// URLInfo is the host API's view of a function URL: its host and sandbox addresses.
type URLInfo = urls.URLInfo

// URLInvocation is how a URL invocation ended (record, gateway timeout, wire counts).
type URLInvocation = urls.Invocation

func urlPath(name string) string { return "/2021-10-31/functions/" + url.PathEscape(name) + "/url" }

// CreateFunctionUrlConfig gives a function a URL with AuthType NONE.
func (c *Client) CreateFunctionUrlConfig(ctx context.Context, name string) (FunctionUrlConfig, error) {
	var out FunctionUrlConfig
	err := c.do(ctx, "POST", urlPath(name), map[string]string{"AuthType": urls.AuthNone}, &out)
	return out, err
}

// GetFunctionUrlConfig returns a function's URL config.
func (c *Client) GetFunctionUrlConfig(ctx context.Context, name string) (FunctionUrlConfig, error) {
	var out FunctionUrlConfig
	err := c.do(ctx, "GET", urlPath(name), nil, &out)
	return out, err
}

// DeleteFunctionUrlConfig removes a function's URL.
func (c *Client) DeleteFunctionUrlConfig(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", urlPath(name), nil, nil)
}

// FunctionURLInfo returns both addresses of a function's URL (host API).
func (c *Client) FunctionURLInfo(ctx context.Context, name string) (URLInfo, error) {
	var out URLInfo
	err := c.do(ctx, "GET", "/faaslab/v1/function-urls/"+url.PathEscape(name), nil, &out)
	return out, err
}

// URLInvocation returns how the URL invocation requestID ended (host API).
func (c *Client) URLInvocation(ctx context.Context, requestID string) (URLInvocation, error) {
	var out URLInvocation
	err := c.do(ctx, "GET", "/faaslab/v1/function-urls/invocations/"+url.PathEscape(requestID), nil, &out)
	return out, err
}
