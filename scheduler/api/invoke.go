package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/faaslab/faaslab/scheduler"
)

// maxClientContextBytes is Lambda's limit on the base64 X-Amz-Client-Context.
const maxClientContextBytes = 3583

var emptyPayload = []byte("{}")

// MakeInvokeHandler serves Invoke: POST /2015-03-31/functions/{name}/invocations.
// X-Amz-Invocation-Type RequestResponse (200, the handler's bytes as is), Event (202,
// run in the background) or DryRun (204); X-Amz-Log-Type: Tail returns the last 4 KB of
// the invocation's log, base64, in X-Amz-Log-Result.
func MakeInvokeHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		id := w.Header().Get(hRequestID)
		invType := r.Header.Get("X-Amz-Invocation-Type")
		limit := int64(scheduler.MaxSyncPayloadBytes)
		switch invType {
		case "", "RequestResponse", "DryRun":
		case "Event":
			limit = scheduler.MaxAsyncPayloadBytes
		default:
			writeError(w, http.StatusBadRequest, "InvalidParameterValueException",
				"X-Amz-Invocation-Type "+strconv.Quote(invType)+" is invalid: use RequestResponse, Event or DryRun")
			return
		}
		payload, err := readPayload(r, limit)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				op := "InvokeFunction"
				if invType == "Event" {
					op = "InvokeAsync"
				}
				writeError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
					"Request must be smaller than "+strconv.FormatInt(limit, 10)+" bytes for the "+op+" operation")
				return
			}
			if isBodyTimeout(err) {
				writeBodyTimeout(w)
				return
			}
			writeError(w, http.StatusBadRequest, errInvalidRequestContent, "Could not read the request body: "+err.Error())
			return
		}
		if err := checkJSONPayload(payload); err != nil {
			writeError(w, http.StatusBadRequest, errInvalidRequestContent, err.Error())
			return
		}
		req := &scheduler.InvokeRequest{Function: name, RequestID: id, Payload: payload,
			Tail: r.Header.Get("X-Amz-Log-Type") == "Tail", TraceID: r.Header.Get(hTraceID)}
		if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
			dec, err := base64.StdEncoding.DecodeString(cc)
			if err != nil || len(cc) > maxClientContextBytes {
				writeError(w, http.StatusBadRequest, errInvalidRequestContent,
					"X-Amz-Client-Context must be a base64-encoded JSON object of at most 3583 bytes")
				return
			}
			req.ClientContext = string(dec)
		}
		switch invType {
		case "DryRun":
			if !d.Service.HasFunction(name) {
				writeServiceError(w, d, scheduler.ErrFunctionNotFound, name)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		case "Event":
			// Lambda passes ClientContext to the function for synchronous invocations only.
			req.Tail, req.ClientContext = false, ""
			if err := d.Service.InvokeAsync(req); err != nil {
				writeServiceError(w, d, err, name)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			return
		}
		res, err := d.Service.Invoke(r.Context(), req)
		if err != nil {
			writeServiceError(w, d, err, name)
			return
		}
		h := w.Header()
		h[hContentType] = jsonContentType
		h[hExecutedVersion] = latestVersion
		if res.FunctionError {
			h[hFunctionError] = unhandled
		}
		if req.Tail {
			h[hLogResult] = []string{base64.StdEncoding.EncodeToString(res.LogTail)}
		}
		h["Content-Length"] = []string{strconv.Itoa(len(res.Payload))}
		w.WriteHeader(http.StatusOK)
		w.Write(res.Payload)
	})
}

var errTooLarge = errors.New("payload too large")

// checkJSONPayload refuses a payload that is not one JSON value, with Lambda's message:
// Lambda parses every Invoke payload (RequestResponse and Event) before running anything,
// so a function never receives plain text through Invoke. json.Valid first keeps the
// common, valid case free of the decoder's allocations.
func checkJSONPayload(payload []byte) error {
	if json.Valid(payload) {
		return nil
	}
	err := json.Unmarshal(payload, new(struct{}))
	return fmt.Errorf("Could not parse request body into json: Could not parse payload into json: %w", err)
}

// readPayload reads the body into one exactly sized buffer when its length is known.
// An empty payload becomes "{}", as Lambda hands runtimes an empty JSON object.
func readPayload(r *http.Request, limit int64) ([]byte, error) {
	n := r.ContentLength
	switch {
	case n > limit:
		return nil, errTooLarge
	case n == 0:
		return emptyPayload, nil
	case n > 0:
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > limit {
		return nil, errTooLarge
	}
	if len(buf) == 0 {
		return emptyPayload, nil
	}
	return buf, nil
}
