// Package runtime speaks the AWS Lambda Runtime API (/2018-06-01/runtime/...): the server
// side the daemon serves to sandboxes, and the client side the faaslab-runtime bootstrap
// uses. Its wire format is Lambda's, so any bootstrap written against the Runtime API (for
// example one built with github.com/aws/aws-lambda-go) runs unmodified.
//
// Server side: NewServer, Register a sandbox by its IP, hand events to its Endpoint with
// Invoke; the status codes and error documents are the Runtime Interface Emulator's.
// Client side: NewClient(AWS_LAMBDA_RUNTIME_API).Serve(ctx, handler). Environment builds
// the Lambda environment a sandbox starts with.
package runtime

import (
	"errors"
	"time"
)

// APIVersionPath prefixes every Runtime API route.
const APIVersionPath = "/2018-06-01/runtime"

// Lambda-Runtime-* headers on GET /invocation/next.
const (
	HeaderRequestID          = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs         = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID            = "Lambda-Runtime-Trace-Id"
	HeaderClientContext      = "Lambda-Runtime-Client-Context"
	HeaderCognitoIdentity    = "Lambda-Runtime-Cognito-Identity"
	HeaderFunctionErrorType  = "Lambda-Runtime-Function-Error-Type"
)

// Invocation is one event handed to a sandbox through GET /invocation/next.
type Invocation struct {
	RequestID       string
	Payload         []byte
	Deadline        time.Time
	FunctionARN     string
	TraceID         string
	ClientContext   string
	CognitoIdentity string
}

// Response is what the sandbox's runtime posted for an invocation (or for init).
type Response struct {
	// Payload is the body of POST .../response, or the error document of .../error
	// ({"errorMessage": ..., "errorType": ..., "stackTrace": [...]}).
	Payload []byte
	// FunctionError is true when the runtime posted to .../error or /init/error.
	FunctionError bool
	// ErrorType is the Lambda-Runtime-Function-Error-Type header or, when a runtime (such as
	// aws-lambda-go) sends none, the errorType field of the error document.
	ErrorType string
	// ContentType is the Content-Type the runtime sent with the payload, if any.
	ContentType string
}

// ErrorDocument is Lambda's JSON shape for function and runtime errors.
type ErrorDocument struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

// Sentinel errors of the server side; test with errors.Is.
var (
	// ErrUnregistered: the sandbox was unregistered (stopped) while an invocation waited.
	ErrUnregistered = errors.New("sandbox left the runtime API")
	// ErrUnknownSandbox: a request came from an address no registered sandbox has.
	ErrUnknownSandbox = errors.New("request from an unknown sandbox")
	// ErrInitFailed: the sandbox's runtime posted /init/error; Invoke returns it with the
	// init error document as the Response.
	ErrInitFailed = errors.New("sandbox runtime failed to initialise")
)

// MaxPayloadBytes is the largest response a runtime may post: Lambda's 6 MiB plus the 100
// bytes of slack the Runtime Interface Emulator allows (interop.MaxPayloadSize).
const MaxPayloadBytes = 6*1024*1024 + 100

// Error types the Runtime API server itself produces (Lambda's names).
const (
	ErrorTypeInvalidStateTransition = "InvalidStateTransition"
	ErrorTypeInvalidRequestID       = "InvalidRequestID"
	ErrorTypeRequestEntityTooLarge  = "RequestEntityTooLarge"
	ErrorTypeInternalServerError    = "InternalServerError"
	// ErrorTypeUnknownSandbox answers requests from an address no sandbox is registered at.
	ErrorTypeUnknownSandbox = "UnknownSandbox"
	// ErrorTypeResponseSizeTooLarge is the function error an oversize response becomes.
	ErrorTypeResponseSizeTooLarge = "Function.ResponseSizeTooLarge"
)

// Function error types the platform itself reports (Lambda's names), in the errorType of
// the error document and the REPORT line.
const (
	ErrorTypeTimeout         = "Sandbox.Timedout"        // the function ran past its timeout
	ErrorTypeOutOfMemory     = "Runtime.OutOfMemory"     // the sandbox hit its memory limit
	ErrorTypeExitError       = "Runtime.ExitError"       // the runtime exited mid-invocation
	ErrorTypeInitError       = "Runtime.InitError"       // the runtime failed before /next
	ErrorTypeHandlerNotFound = "Runtime.HandlerNotFound" // no handler of that name
	ErrorTypeHandlerPanic    = "Runtime.HandlerPanic"    // the handler panicked
	ErrorTypeNoPython        = "Runtime.NoPython"        // a boto3 handler in an image without Python
)
