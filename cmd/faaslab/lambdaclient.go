package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// lambdaClient speaks the Lambda API subset the daemon serves, as the aws CLI would.
type lambdaClient struct {
	endpoint string // e.g. http://127.0.0.1:3001
	http     *http.Client
}

func newLambdaClient(endpoint string) *lambdaClient {
	return &lambdaClient{endpoint: strings.TrimRight(endpoint, "/"), http: &http.Client{Timeout: 16 * time.Minute}}
}

// apiError is Lambda's error document plus the X-Amzn-ErrorType header.
type apiError struct {
	Status  int
	Type    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Type, e.Status, e.Message)
}

func (c *lambdaClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("is the daemon running at %s? %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return decodeAPIError(resp, data)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func decodeAPIError(resp *http.Response, data []byte) error {
	var doc struct {
		Message  string `json:"message"`
		MessageU string `json:"Message"`
		Type     string `json:"Type"`
	}
	_ = json.Unmarshal(data, &doc)
	msg := doc.Message
	if msg == "" {
		msg = doc.MessageU
	}
	if msg == "" {
		msg = strings.TrimSpace(string(data))
	}
	return &apiError{Status: resp.StatusCode, Type: resp.Header.Get("X-Amzn-ErrorType"), Message: msg}
}

// invokeResult is what Invoke returned.
type invokeResult struct {
	Status        int
	Payload       []byte
	FunctionError string // X-Amz-Function-Error
	LogTail       string // decoded X-Amz-Log-Result
}

func (c *lambdaClient) invoke(ctx context.Context, name, invocationType string, payload []byte, tail bool) (invokeResult, error) {
	u := c.endpoint + "/2015-03-31/functions/" + url.PathEscape(name) + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return invokeResult{}, err
	}
	if invocationType != "" {
		req.Header.Set("X-Amz-Invocation-Type", invocationType)
	}
	if tail {
		req.Header.Set("X-Amz-Log-Type", "Tail")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return invokeResult{}, fmt.Errorf("is the daemon running at %s? %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return invokeResult{}, err
	}
	if resp.StatusCode >= 300 {
		return invokeResult{}, decodeAPIError(resp, data)
	}
	res := invokeResult{Status: resp.StatusCode, Payload: data, FunctionError: resp.Header.Get("X-Amz-Function-Error")}
	if l := resp.Header.Get("X-Amz-Log-Result"); l != "" {
		if dec, err := base64.StdEncoding.DecodeString(l); err == nil {
			res.LogTail = string(dec)
		}
	}
	return res, nil
}
