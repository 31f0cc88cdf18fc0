package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/faaslab/faaslab/scheduler"
)

// eventInvokeConfigRequest is the body of Put/UpdateFunctionEventInvokeConfig.
type eventInvokeConfigRequest struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	DestinationConfig        *json.RawMessage
}

// FunctionEventInvokeConfig is Lambda's response document; LastModified is Unix seconds.
type FunctionEventInvokeConfig struct {
	FunctionArn              string
	LastModified             float64
	MaximumRetryAttempts     *int               `json:",omitempty"`
	MaximumEventAgeInSeconds *int               `json:",omitempty"`
	DestinationConfig        *destinationConfig `json:",omitempty"`
}

type destinationConfig struct {
	OnFailure, OnSuccess struct{ Destination *string } `json:",omitempty"`
}

func toEventInvokeConfig(d Deps, name string, c scheduler.EventInvokeConfig) FunctionEventInvokeConfig {
	return FunctionEventInvokeConfig{FunctionArn: d.Service.FunctionARN(name) + ":$LATEST",
		LastModified:         float64(c.LastModified.UnixNano()) / float64(time.Second),
		MaximumRetryAttempts: c.MaximumRetryAttempts, MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds}
}

// MakePutFunctionEventInvokeConfigHandler serves PUT (replace: absent fields revert to
// the defaults) and, with merge, POST (UpdateFunctionEventInvokeConfig: only the given
// fields change) on /2019-09-25/functions/{name}/event-invoke-config.
func MakePutFunctionEventInvokeConfigHandler(d Deps, merge bool) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		var req eventInvokeConfigRequest
		if !decodeBody(w, r, maxConfigBodyBytes, &req) {
			return
		}
		// Lambda refuses a call that sets nothing, before looking the function up.
		if req.MaximumRetryAttempts == nil && req.MaximumEventAgeInSeconds == nil && req.DestinationConfig == nil {
			writeError(w, http.StatusBadRequest, "InvalidParameterValueException",
				"You must specify at least one of error handling or destination setting.")
			return
		}
		if req.DestinationConfig != nil && string(*req.DestinationConfig) != "{}" {
			writeError(w, http.StatusBadRequest, "InvalidParameterValueException",
				"DestinationConfig is not supported by faaslab: it has no queues, topics or event buses to deliver to")
			return
		}
		c, err := d.Service.PutFunctionEventInvokeConfig(name, scheduler.EventInvokeConfig{
			MaximumRetryAttempts: req.MaximumRetryAttempts, MaximumEventAgeInSeconds: req.MaximumEventAgeInSeconds}, merge)
		writeResult(w, d, name, err, http.StatusOK, func() any { return toEventInvokeConfig(d, name, c) })
	})
}

// MakeGetFunctionEventInvokeConfigHandler serves GET /2019-09-25/functions/{name}/event-invoke-config.
func MakeGetFunctionEventInvokeConfigHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		c, err := d.Service.GetFunctionEventInvokeConfig(name)
		writeResult(w, d, name, err, http.StatusOK, func() any { return toEventInvokeConfig(d, name, c) })
	})
}

// MakeDeleteFunctionEventInvokeConfigHandler serves DELETE /2019-09-25/functions/{name}/event-invoke-config → 204.
func MakeDeleteFunctionEventInvokeConfigHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		err := d.Service.DeleteFunctionEventInvokeConfig(name)
		writeResult(w, d, name, err, http.StatusNoContent, nil)
	})
}
