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
	return call[FunctionUrlConfig](ctx, c, "POST", urlPath(name), map[string]string{"AuthType": urls.AuthNone})
}

// GetFunctionUrlConfig returns a function's URL config.
func (c *Client) GetFunctionUrlConfig(ctx context.Context, name string) (FunctionUrlConfig, error) {
	return call[FunctionUrlConfig](ctx, c, "GET", urlPath(name), nil)
}

// DeleteFunctionUrlConfig removes a function's URL.
func (c *Client) DeleteFunctionUrlConfig(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", urlPath(name), nil, nil)
}

// FunctionURLInfo returns both addresses of a function's URL (host API).
func (c *Client) FunctionURLInfo(ctx context.Context, name string) (URLInfo, error) {
	return call[URLInfo](ctx, c, "GET", "/faaslab/v1/function-urls/"+url.PathEscape(name), nil)
}

// URLInvocation returns how the URL invocation requestID ended (host API).
func (c *Client) URLInvocation(ctx context.Context, requestID string) (URLInvocation, error) {
	return call[URLInvocation](ctx, c, "GET", "/faaslab/v1/function-urls/invocations/"+url.PathEscape(requestID), nil)
}
