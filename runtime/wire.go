package runtime

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Trailers aws-lambda-go sends when reading the response body failed midway.
const (
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// Header values shared by every response; net/http never mutates them.
var (
	contentTypeJSON     = []string{"application/json"}
	contentTypeJSONUTF8 = []string{"application/json; charset=utf-8"}
	acceptedBody        = []byte("{\"status\":\"OK\"}\n")
	acceptedLength      = []string{strconv.Itoa(len(acceptedBody))}
)

func formatMillis(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// writeInvocation renders GET /next's answer as the Runtime Interface Emulator does: the
// Lambda-Runtime-* headers (empty ones left out), Content-Type defaulting to JSON, the
// event as the body.
func writeInvocation(w http.ResponseWriter, c *call) {
	h := w.Header()
	h[HeaderRequestID] = []string{c.inv.RequestID}
	h[HeaderDeadlineMs] = []string{c.deadline}
	setIfNotEmpty(h, HeaderInvokedFunctionARN, c.inv.FunctionARN)
	setIfNotEmpty(h, HeaderTraceID, c.inv.TraceID)
	setIfNotEmpty(h, HeaderClientContext, c.inv.ClientContext)
	setIfNotEmpty(h, HeaderCognitoIdentity, c.inv.CognitoIdentity)
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = []string{strconv.Itoa(len(c.inv.Payload))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.inv.Payload)
}

func setIfNotEmpty(h http.Header, key, value string) {
	if value != "" {
		h[key] = []string{value}
	}
}

// readAnswer reads a POST .../response or .../error into the Response Invoke returns, and
// the status the runtime gets (202, or 413 when the response is over MaxPayloadBytes).
func readAnswer(r *http.Request, isError bool) (Response, int, error) {
	body, size, err := readBody(r, MaxPayloadBytes)
	if err != nil {
		return Response{}, 0, err
	}
	contentType := r.Header.Get("Content-Type")
	if size > MaxPayloadBytes {
		msg := fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).",
			size, MaxPayloadBytes)
		return Response{
			Payload:       marshalError(ErrorTypeResponseSizeTooLarge, msg),
			FunctionError: true,
			ErrorType:     ErrorTypeResponseSizeTooLarge,
			ContentType:   "application/json",
		}, http.StatusRequestEntityTooLarge, nil
	}
	if isError {
		return errorResponse(body, r.Header.Get(HeaderFunctionErrorType), contentType), http.StatusAccepted, nil
	}
	if t := r.Trailer.Get(trailerErrorType); t != "" {
		// aws-lambda-go streamed a response whose reader failed: the trailers carry the error.
		doc, derr := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody))
		if derr != nil || len(doc) == 0 {
			doc = marshalError(t, "the function's response stream failed")
		}
		return Response{Payload: doc, FunctionError: true, ErrorType: t, ContentType: "application/json"},
			http.StatusAccepted, nil
	}
	return Response{Payload: body, ContentType: contentType}, http.StatusAccepted, nil
}

// readBody reads at most limit bytes of the body. When the body is longer it returns nil
// and the body's full size (draining the rest, so the connection stays usable).
func readBody(r *http.Request, limit int64) ([]byte, int64, error) {
	if n := r.ContentLength; n > limit {
		drained, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return nil, 0, fmt.Errorf("read oversize runtime api body: %w", err)
		}
		return nil, drained, nil
	} else if n >= 0 {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, 0, fmt.Errorf("read runtime api body: %w", err)
		}
		if r.Trailer != nil {
			// Trailers are filled in only once the body has hit EOF.
			_, _ = io.Copy(io.Discard, r.Body)
		}
		return body, n, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read runtime api body: %w", err)
	}
	if int64(len(body)) > limit {
		drained, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return nil, 0, fmt.Errorf("read oversize runtime api body: %w", err)
		}
		return nil, int64(len(body)) + drained, nil
	}
	return body, int64(len(body)), nil
}

// errorResponse builds the Response of a posted error document. Runtimes that send no
// Lambda-Runtime-Function-Error-Type header (aws-lambda-go) name the type in the body.
func errorResponse(body []byte, errorType, contentType string) Response {
	if errorType == "" && len(body) > 0 {
		var doc struct {
			ErrorType string `json:"errorType"`
		}
		if json.Unmarshal(body, &doc) == nil {
			errorType = doc.ErrorType
		}
	}
	return Response{Payload: body, FunctionError: true, ErrorType: errorType, ContentType: contentType}
}

func marshalError(errorType, message string) []byte {
	b, err := json.Marshal(ErrorDocument{ErrorMessage: message, ErrorType: errorType})
	if err != nil {
		// Two strings always marshal; keep a valid document anyway.
		return []byte(`{"errorMessage":"internal error","errorType":"InternalServerError"}`)
	}
	return b
}

// writeError renders Lambda's error JSON ({"errorMessage":...,"errorType":...}).
func writeError(w http.ResponseWriter, status int, errorType, message string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(ErrorDocument{ErrorMessage: message, ErrorType: errorType})
	w.Header()["Content-Type"] = contentTypeJSONUTF8
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeStateError is the emulator's 403 for a call the runtime's state does not allow.
func writeStateError(w http.ResponseWriter, from, to string) {
	writeError(w, http.StatusForbidden, ErrorTypeInvalidStateTransition,
		fmt.Sprintf("State transition from %s to %s failed for runtime. Error: State transition is not allowed", from, to))
}

func writeInvalidRequestID(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, ErrorTypeInvalidRequestID, "Invalid request ID")
}

func writeTooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, ErrorTypeRequestEntityTooLarge,
		fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxPayloadBytes))
}

func writeAccepted(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSONUTF8
	h["Content-Length"] = acceptedLength
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedBody)
}
