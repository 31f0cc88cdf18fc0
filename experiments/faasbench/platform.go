package faasbench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faaslab/faaslab/client"
)

// endpoints are the URLs a run calls: the proxy as the generator reaches it, and every
// target as the proxy reaches it.
type endpoints struct {
	proxy, asyncProxy string
	targets           map[string]string
}

// faaslabPlatform owns the functions a run creates on a daemon and reads its records.
type faaslabPlatform struct {
	c       *client.Client
	spec    FaaslabSpec
	created []string
}

// setup creates <prefix>-proxy and <prefix>-<target> (built-in faasbench-* handlers) with
// function URLs, and returns the URLs: the proxy's on loopback, the targets' on the
// gateway address (what a sandbox reaches).
func (p *faaslabPlatform) setup(ctx context.Context, targets []string, timeouts map[string]int) (endpoints, error) {
	ep := endpoints{targets: map[string]string{}}
	proxy := p.spec.FunctionPrefix + "-proxy"
	info, err := p.create(ctx, proxy, "faasbench-proxy", p.spec.TimeoutS)
	if err != nil {
		return ep, err
	}
	ep.proxy = info.FunctionUrl
	for _, t := range targets {
		timeout := p.spec.TimeoutS
		if s, ok := timeouts[t]; ok {
			timeout = s
		}
		info, err := p.create(ctx, p.spec.FunctionPrefix+"-"+t, "faasbench-"+t, timeout)
		if err != nil {
			return ep, err
		}
		ep.targets[t] = info.SandboxFunctionUrl
	}
	return ep, nil
}

func (p *faaslabPlatform) create(ctx context.Context, name, handler string, timeoutS int) (client.URLInfo, error) {
	_, err := p.c.CreateFunction(ctx, client.CreateFunctionRequest{FunctionName: name, Runtime: "faaslab",
		Handler: handler, MemorySize: p.spec.MemoryMB, Timeout: timeoutS})
	if err != nil {
		return client.URLInfo{}, fmt.Errorf("create %s: %w (delete it or set faaslab.function_prefix)", name, err)
	}
	p.created = append(p.created, name)
	if _, err := p.c.CreateFunctionUrlConfig(ctx, name); err != nil {
		return client.URLInfo{}, fmt.Errorf("function URL of %s: %w", name, err)
	}
	return p.c.FunctionURLInfo(ctx, name)
}

// teardown deletes what setup created (their URL configs go with them).
func (p *faaslabPlatform) teardown(ctx context.Context) error {
	var errs []error
	for _, name := range p.created {
		p.c.DeleteFunctionUrlConfig(ctx, name)
		if err := p.c.DeleteFunction(ctx, name); err != nil && !client.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	p.created = nil
	return errors.Join(errs...)
}

// invocation waits up to wait for the record of URL invocation id (a function that
// outlived a gateway timeout files it only when it ends).
func (p *faaslabPlatform) invocation(ctx context.Context, id string, wait time.Duration) (client.URLInvocation, bool) {
	deadline := time.Now().Add(wait)
	for {
		inv, err := p.c.URLInvocation(ctx, id)
		if err == nil && inv.Record != nil && inv.Wire != nil {
			return inv, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return inv, err == nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// annotate adds the daemon's view of the call: cold/warm, outcome, billed duration.
func (p *faaslabPlatform) annotate(ctx context.Context, c *Call, wait time.Duration) {
	if c.ProxyRequestID != "" {
		if inv, ok := p.invocation(ctx, c.ProxyRequestID, wait); ok {
			c.GatewayTimeout = inv.GatewayTimeout
			if r := inv.Record; r != nil {
				c.ProxyStart, c.ProxyOutcome, c.ProxyBilledMs = r.Start, r.Outcome, r.BilledMs
			}
		}
	}
	if c.TargetRequestID != "" {
		if inv, ok := p.invocation(ctx, c.TargetRequestID, wait); ok {
			if r := inv.Record; r != nil {
				c.TargetStart, c.TargetOutcome, c.TargetBilledMs = r.Start, r.Outcome, r.BilledMs
			}
			if inv.GatewayTimeout {
				c.GatewayTimeout = true
			}
		}
	}
	if c.Status == StatusError && (c.TargetOutcome == "timeout" || c.ProxyOutcome == "timeout") {
		c.Status = StatusTimeout
	}
}
