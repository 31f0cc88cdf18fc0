package scheduler

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is. The API maps each to Lambda's error type.
var (
	// ErrFunctionNotFound → 404 ResourceNotFoundException.
	ErrFunctionNotFound = errors.New("function not found")
	// ErrFunctionExists → 409 ResourceConflictException.
	ErrFunctionExists = errors.New("function already exists")
	// ErrInvalidParameter → 400 InvalidParameterValueException; the error names the field.
	ErrInvalidParameter = errors.New("invalid parameter value")
	// ErrCodeTooLarge → 413 RequestEntityTooLargeException.
	ErrCodeTooLarge = errors.New("function code too large")
	// ErrTooManyRequests → 429 TooManyRequestsException.
	ErrTooManyRequests = errors.New("too many requests")
	// ErrClosed: the scheduler is shutting down.
	ErrClosed = errors.New("scheduler is shut down")
)

// ParamError is an invalid request parameter; it wraps ErrInvalidParameter.
type ParamError struct {
	Field string
	Msg   string
}

func (e *ParamError) Error() string { return e.Msg }
func (e *ParamError) Unwrap() error { return ErrInvalidParameter }

func paramErr(field, format string, args ...any) error {
	return &ParamError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Throttle reasons as Lambda names them in a 429's "Reason".
const (
	ReasonReservedConcurrency = "ReservedFunctionConcurrentInvocationLimitExceeded"
	ReasonQueueFull           = "ConcurrentInvocationLimitExceeded"
)

// ThrottleError says why an invocation was refused; it wraps ErrTooManyRequests.
type ThrottleError struct {
	Reason string
	Msg    string
}

func (e *ThrottleError) Error() string { return e.Msg }
func (e *ThrottleError) Unwrap() error { return ErrTooManyRequests }
