package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lambda's asynchronous invocation defaults and limits (PutFunctionEventInvokeConfig).
const (
	DefaultMaximumRetryAttempts     = 2
	DefaultMaximumEventAgeInSeconds = 21600 // 6 hours
	minEventAgeSeconds              = 60
	maxEventRetryBackoff            = 5 * time.Minute
)

// EventInvokeConfig is a function's asynchronous invocation settings; nil fields take
// Lambda's defaults (2 retries, 6 hours).
type EventInvokeConfig struct {
	MaximumRetryAttempts     *int      `json:"maximum_retry_attempts,omitempty"`
	MaximumEventAgeInSeconds *int      `json:"maximum_event_age_in_seconds,omitempty"`
	LastModified             time.Time `json:"last_modified"`
}

func (c *EventInvokeConfig) clone() *EventInvokeConfig {
	d := *c
	if c.MaximumRetryAttempts != nil {
		n := *c.MaximumRetryAttempts
		d.MaximumRetryAttempts = &n
	}
	if c.MaximumEventAgeInSeconds != nil {
		n := *c.MaximumEventAgeInSeconds
		d.MaximumEventAgeInSeconds = &n
	}
	return &d
}

// limits returns the retry budget for function errors and the event's maximum age.
func (c *EventInvokeConfig) limits() (retries int, maxAge time.Duration) {
	retries, age := DefaultMaximumRetryAttempts, DefaultMaximumEventAgeInSeconds
	if c != nil && c.MaximumRetryAttempts != nil {
		retries = *c.MaximumRetryAttempts
	}
	if c != nil && c.MaximumEventAgeInSeconds != nil {
		age = *c.MaximumEventAgeInSeconds
	}
	return retries, time.Duration(age) * time.Second
}

func (c *EventInvokeConfig) validate() error {
	if n := c.MaximumRetryAttempts; n != nil && (*n < 0 || *n > DefaultMaximumRetryAttempts) {
		return paramErr("MaximumRetryAttempts", "MaximumRetryAttempts %d is outside 0–%d", *n, DefaultMaximumRetryAttempts)
	}
	if n := c.MaximumEventAgeInSeconds; n != nil && (*n < minEventAgeSeconds || *n > DefaultMaximumEventAgeInSeconds) {
		return paramErr("MaximumEventAgeInSeconds", "MaximumEventAgeInSeconds %d is outside %d–%d",
			*n, minEventAgeSeconds, DefaultMaximumEventAgeInSeconds)
	}
	return nil
}

// ErrNoEventInvokeConfig: Get or UpdateFunctionEventInvokeConfig on a function without
// one (→ 404).
var ErrNoEventInvokeConfig = errors.New("function has no EventInvokeConfig")

// PutFunctionEventInvokeConfig replaces the function's asynchronous invocation config
// (absent fields revert to the defaults); with merge (UpdateFunctionEventInvokeConfig)
// only the fields set in in change, and a function without a config is
// ErrNoEventInvokeConfig, as on Lambda (Update does not create one).
func (s *Scheduler) PutFunctionEventInvokeConfig(name string, in EventInvokeConfig, merge bool) (EventInvokeConfig, error) {
	if err := in.validate(); err != nil {
		return EventInvokeConfig{}, err
	}
	f, err := s.update(name, false, func(f *FunctionConfig) (*FunctionConfig, error) {
		if merge && f.EventInvoke == nil {
			return nil, fmt.Errorf("%w: %s", ErrNoEventInvokeConfig, name)
		}
		c := f.clone()
		next := in.clone()
		if merge {
			if next.MaximumRetryAttempts == nil {
				next.MaximumRetryAttempts = c.EventInvoke.MaximumRetryAttempts
			}
			if next.MaximumEventAgeInSeconds == nil {
				next.MaximumEventAgeInSeconds = c.EventInvoke.MaximumEventAgeInSeconds
			}
		}
		next.LastModified = time.Now().UTC()
		c.EventInvoke = next
		return c, nil
	})
	if err != nil {
		return EventInvokeConfig{}, err
	}
	return *f.EventInvoke, nil
}

// GetFunctionEventInvokeConfig returns the config PutFunctionEventInvokeConfig set.
func (s *Scheduler) GetFunctionEventInvokeConfig(name string) (EventInvokeConfig, error) {
	f, err := s.GetFunction(name)
	if err != nil {
		return EventInvokeConfig{}, err
	}
	if f.EventInvoke == nil {
		return EventInvokeConfig{}, fmt.Errorf("%w: %s", ErrNoEventInvokeConfig, name)
	}
	return *f.EventInvoke, nil
}

// DeleteFunctionEventInvokeConfig removes the config: Lambda's defaults apply again.
func (s *Scheduler) DeleteFunctionEventInvokeConfig(name string) error {
	f, err := s.GetFunction(name)
	if err != nil {
		return err
	}
	if f.EventInvoke == nil {
		return fmt.Errorf("%w: %s", ErrNoEventInvokeConfig, name)
	}
	_, err = s.update(name, false, func(f *FunctionConfig) (*FunctionConfig, error) {
		c := f.clone()
		c.EventInvoke = nil
		return c, nil
	})
	return err
}

// runEvent runs an accepted Event invocation with Lambda's retries: a function error
// (handler error, timeout, crash, init failure) is retried up to MaximumRetryAttempts
// times, after EventRetryDelay and then twice that; a throttle or platform failure is
// retried with doubling back-off. No attempt starts once the event is older than
// MaximumEventAgeInSeconds. Every attempt keeps the request ID and writes its record.
func (s *Scheduler) runEvent(req *InvokeRequest, accepted time.Time) {
	delay := s.cfg.EventRetryDelay
	for funcErrors := 0; ; {
		res, err := s.Invoke(s.ctx, req)
		if err == nil && !res.FunctionError {
			return
		}
		if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, ErrFunctionNotFound) {
			return
		}
		retries, maxAge := s.eventLimits(req.Function)
		why := "function error"
		if err != nil {
			why = err.Error()
		} else if funcErrors++; funcErrors > retries {
			s.log.Warn("asynchronous invocation dropped: function error on every attempt", "function", req.Function,
				"request_id", req.RequestID, "attempts", funcErrors)
			return
		}
		if time.Since(accepted)+delay > maxAge {
			s.log.Warn("asynchronous invocation dropped: older than MaximumEventAgeInSeconds", "function", req.Function,
				"request_id", req.RequestID, "max_age", maxAge, "last_error", why)
			return
		}
		s.log.Info("asynchronous invocation retried", "function", req.Function, "request_id", req.RequestID,
			"after", delay, "reason", why)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		delay = min(2*delay, max(maxEventRetryBackoff, s.cfg.EventRetryDelay))
	}
}

// eventLimits reads the function's current retry budget and maximum event age.
func (s *Scheduler) eventLimits(name string) (retries int, maxAge time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *EventInvokeConfig
	if fs := s.fns[name]; fs != nil {
		c = fs.cfg.EventInvoke
	}
	return c.limits()
}
