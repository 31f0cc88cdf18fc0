// Package api serves the subset of the AWS Lambda API that the aws CLI and SDKs use
// (functions CRUD, concurrency, Invoke) with Lambda's wire formats, on top of a
// scheduler. One handler per endpoint, built as MakeXHandler(deps), routed with
// http.ServeMux patterns.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/faaslab/faaslab/scheduler"
	"github.com/faaslab/faaslab/scheduler/urls"
)

// Service is what the API needs from the scheduler; *scheduler.Scheduler implements it.
type Service interface {
	CreateFunction(ctx context.Context, in scheduler.CreateFunctionInput) (scheduler.FunctionConfig, error)
	GetFunction(name string) (scheduler.FunctionConfig, error)
	HasFunction(name string) bool
	ListFunctions() []scheduler.FunctionConfig
	DeleteFunction(ctx context.Context, name string) error
	UpdateFunctionConfiguration(ctx context.Context, name string, u scheduler.ConfigUpdate) (scheduler.FunctionConfig, error)
	UpdateFunctionCode(ctx context.Context, name string, code scheduler.Code) (scheduler.FunctionConfig, error)
	PutFunctionConcurrency(name string, n *int) (scheduler.FunctionConfig, error)
	PutFunctionEventInvokeConfig(name string, c scheduler.EventInvokeConfig, merge bool) (scheduler.EventInvokeConfig, error)
	GetFunctionEventInvokeConfig(name string) (scheduler.EventInvokeConfig, error)
	DeleteFunctionEventInvokeConfig(name string) error
	NewCodeUpload() (*os.File, error)
	Invoke(ctx context.Context, req *scheduler.InvokeRequest) (*scheduler.InvokeResult, error)
	InvokeAsync(req *scheduler.InvokeRequest) error
	FunctionARN(name string) string
	AccountID() string
	CodeLocation(f scheduler.FunctionConfig) string
}

var _ Service = (*scheduler.Scheduler)(nil)

// Deps are the handlers' dependencies.
type Deps struct {
	Service Service
	Logger  *slog.Logger // nil = discard
	URLs    *urls.Store  // function URL configs; nil = no function URL routes
	Limits  Limits       // NewHandler's body bounds; zero = defaults
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Body limits of the calls other than Invoke (its payload limits are scheduler's).
const (
	// maxCreateBodyBytes fits a 50 MB zip base64-encoded plus the JSON around it.
	maxCreateBodyBytes = 70 << 20
	maxConfigBodyBytes = 1 << 20
)

// Register adds every Lambda route to mux.
func Register(mux *http.ServeMux, d Deps) {
	mux.HandleFunc("POST /2015-03-31/functions", MakeCreateFunctionHandler(d))
	mux.HandleFunc("POST /2015-03-31/functions/{$}", MakeCreateFunctionHandler(d))
	mux.HandleFunc("GET /2015-03-31/functions", MakeListFunctionsHandler(d))
	mux.HandleFunc("GET /2015-03-31/functions/{$}", MakeListFunctionsHandler(d))
	mux.HandleFunc("GET /2015-03-31/functions/{name}", MakeGetFunctionHandler(d))
	mux.HandleFunc("DELETE /2015-03-31/functions/{name}", MakeDeleteFunctionHandler(d))
	mux.HandleFunc("GET /2015-03-31/functions/{name}/configuration", MakeGetFunctionConfigurationHandler(d))
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/configuration", MakeUpdateFunctionConfigurationHandler(d))
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/code", MakeUpdateFunctionCodeHandler(d))
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", MakeInvokeHandler(d))
	mux.HandleFunc("PUT /2017-10-31/functions/{name}/concurrency", MakePutFunctionConcurrencyHandler(d))
	mux.HandleFunc("DELETE /2017-10-31/functions/{name}/concurrency", MakeDeleteFunctionConcurrencyHandler(d))
	mux.HandleFunc("GET /2019-09-30/functions/{name}/concurrency", MakeGetFunctionConcurrencyHandler(d))
	if d.URLs != nil {
		registerURLs(mux, d)
	}
	mux.HandleFunc("PUT /2019-09-25/functions/{name}/event-invoke-config", MakePutFunctionEventInvokeConfigHandler(d, false))
	mux.HandleFunc("POST /2019-09-25/functions/{name}/event-invoke-config", MakePutFunctionEventInvokeConfigHandler(d, true))
	mux.HandleFunc("GET /2019-09-25/functions/{name}/event-invoke-config", MakeGetFunctionEventInvokeConfigHandler(d))
	mux.HandleFunc("DELETE /2019-09-25/functions/{name}/event-invoke-config", MakeDeleteFunctionEventInvokeConfigHandler(d))
}

// NewHandler is a mux with every route, answering unknown paths with Lambda's
// UnknownOperationException. Mount it at "/" next to more specific routes (/metrics).
func NewHandler(d Deps) http.Handler {
	mux := http.NewServeMux()
	Register(mux, d)
	mux.HandleFunc("/", UnknownOperation)
	return Guard(mux, d.Limits)
}

// Header names as Lambda spells them (Go canonicalizes on the wire; HTTP is case-insensitive).
const (
	hRequestID       = "X-Amzn-Requestid" // x-amzn-RequestId
	hErrorType       = "X-Amzn-Errortype" // X-Amzn-ErrorType
	hContentType     = "Content-Type"
	hFunctionError   = "X-Amz-Function-Error"
	hLogResult       = "X-Amz-Log-Result"
	hExecutedVersion = "X-Amz-Executed-Version"
	hTraceID         = "X-Amzn-Trace-Id"
)

// Lambda's error types (X-Amzn-ErrorType) that more than one handler answers.
const (
	// errInvalidRequestContent: a body or header Lambda cannot parse (not JSON, bad base64).
	errInvalidRequestContent = "InvalidRequestContentException"
)

var (
	jsonContentType = []string{"application/json"}
	latestVersion   = []string{"$LATEST"}
	unhandled       = []string{"Unhandled"}
)

// setRequestID gives the response its x-amzn-RequestId and returns it.
func setRequestID(w http.ResponseWriter) string {
	id := uuid.NewString()
	w.Header()[hRequestID] = []string{id}
	return id
}

// errorBody is Lambda's error document.
type errorBody struct {
	Type    string `json:"Type"`
	Message string `json:"message"`
	Reason  string `json:"Reason,omitempty"`
}

func writeError(w http.ResponseWriter, status int, errType, msg string) {
	writeErrorBody(w, status, errType, errorBody{Type: "User", Message: msg})
}

func writeErrorBody(w http.ResponseWriter, status int, errType string, body errorBody) {
	h := w.Header()
	h[hContentType] = jsonContentType
	h[hErrorType] = []string{errType}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header()[hContentType] = jsonContentType
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeServiceError maps a scheduler error to Lambda's error type and status.
func writeServiceError(w http.ResponseWriter, d Deps, err error, name string) {
	var pe *scheduler.ParamError
	var te *scheduler.ThrottleError
	switch {
	case errors.Is(err, scheduler.ErrFunctionNotFound):
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+d.Service.FunctionARN(name))
	case errors.Is(err, scheduler.ErrNoEventInvokeConfig):
		writeError(w, http.StatusNotFound, "ResourceNotFoundException",
			"The function "+d.Service.FunctionARN(name)+":$LATEST doesn't have an EventInvokeConfig")
	case errors.Is(err, scheduler.ErrFunctionExists):
		writeError(w, http.StatusConflict, "ResourceConflictException", "Function already exist: "+name)
	case errors.As(err, &pe):
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException", pe.Msg)
	case errors.Is(err, scheduler.ErrCodeTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", err.Error())
	case errors.As(err, &te):
		writeErrorBody(w, http.StatusTooManyRequests, "TooManyRequestsException", errorBody{Type: "User", Message: te.Msg, Reason: te.Reason})
	case errors.Is(err, scheduler.ErrClosed):
		writeErrorBody(w, http.StatusServiceUnavailable, "ServiceException", errorBody{Type: "Service", Message: "the faaslab daemon is shutting down; retry against a running daemon"})
	default:
		d.logger().Error("request failed", "function", name, "err", err)
		writeErrorBody(w, http.StatusInternalServerError, "ServiceException", errorBody{Type: "Service", Message: err.Error()})
	}
}

// writeResult answers a service call: err as Lambda's error, else status with doc() as
// the JSON body, or no body when doc is nil. doc runs only on success.
func writeResult(w http.ResponseWriter, d Deps, name string, err error, status int, doc func() any) {
	switch {
	case err != nil:
		writeServiceError(w, d, err, name)
	case doc == nil:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, doc())
	}
}

// resolveName turns a function name, partial ARN (ACCOUNT:function:NAME) or full ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME), each with an optional :QUALIFIER, plus
// the Qualifier query parameter, into the function name. Only $LATEST exists.
func resolveName(raw, qualifier string) (name string, ok bool) {
	if strings.IndexByte(raw, ':') < 0 { // the common case: a plain name
		return raw, qualifier == "" || qualifier == "$LATEST"
	}
	parts := strings.Split(raw, ":")
	var q string
	switch {
	case len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
		name = parts[6]
		if len(parts) == 8 {
			q = parts[7]
		} else if len(parts) > 8 {
			return "", false
		}
	case len(parts) >= 3 && parts[1] == "function":
		name = parts[2]
		if len(parts) == 4 {
			q = parts[3]
		} else if len(parts) > 4 {
			return "", false
		}
	case len(parts) == 2:
		name, q = parts[0], parts[1]
	default:
		return "", false
	}
	for _, x := range []string{q, qualifier} {
		if x != "" && x != "$LATEST" {
			return name, false
		}
	}
	return name, name != ""
}

// withFunction is the preamble of every route on one function: it gives the response its
// x-amzn-RequestId and resolves the {name} path value (answering 404 itself), then calls h.
func withFunction(d Deps, h func(w http.ResponseWriter, r *http.Request, name string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setRequestID(w)
		name, ok := functionName(w, r, d)
		if !ok {
			return
		}
		h(w, r, name)
	}
}

// functionName resolves the {name} path value; on failure it writes the 404 and returns false.
func functionName(w http.ResponseWriter, r *http.Request, d Deps) (string, bool) {
	raw := r.PathValue("name")
	var qualifier string
	if r.URL.RawQuery != "" {
		qualifier = r.URL.Query().Get("Qualifier")
	}
	name, ok := resolveName(raw, qualifier)
	if !ok {
		arn := raw
		if !strings.HasPrefix(raw, "arn:") {
			arn = d.Service.FunctionARN(raw)
		}
		if qualifier != "" {
			arn += ":" + qualifier
		}
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn)
		return "", false
	}
	return name, true
}

// decodeBody reads a JSON request body of at most limit bytes into v, writing the error.
// A declared Content-Length above limit is refused before reading anything.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if r.ContentLength > limit {
		writeBodyTooLarge(w, limit)
		return false
	}
	return decodeJSON(w, http.MaxBytesReader(w, r.Body, limit), limit, v, nil)
}

// decodeJSON decodes body into v, writing the error: special's answer when it has one,
// else 413 (over limit), 408 (Guard's deadline) or 400.
func decodeJSON(w http.ResponseWriter, body io.Reader, limit int64, v any, special func(http.ResponseWriter, error) bool) bool {
	err := json.NewDecoder(body).Decode(v)
	if err == nil {
		return true
	}
	var mbe *http.MaxBytesError
	switch {
	case special != nil && special(w, err):
	case errors.As(err, &mbe):
		writeBodyTooLarge(w, limit)
	case isBodyTimeout(err):
		writeBodyTimeout(w)
	default:
		writeError(w, http.StatusBadRequest, errInvalidRequestContent, "Could not parse request body into json: "+err.Error())
	}
	return false
}

// writeBodyTooLarge refuses a body; the connection closes after the answer, so net/http
// does not try to read (discard) the rest first.
func writeBodyTooLarge(w http.ResponseWriter, limit int64) {
	w.Header()["Connection"] = []string{"close"}
	writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
		fmt.Sprintf("Request must be smaller than %d bytes for this operation", limit))
}
