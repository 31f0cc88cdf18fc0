package api

import (
	"errors"
	"net/http"

	"github.com/faaslab/faaslab/scheduler/urls"
)

// FunctionUrlConfig is Lambda's function URL document (Create/Get/Update answers and the
// items of ListFunctionUrlConfigs).
type FunctionUrlConfig struct {
	FunctionUrl      string
	FunctionArn      string
	AuthType         string
	Cors             *urls.Cors `json:",omitempty"`
	CreationTime     string
	LastModifiedTime string `json:",omitempty"`
	InvokeMode       string
}

// functionUrlRequest is the body of Create/UpdateFunctionUrlConfig.
type functionUrlRequest struct {
	AuthType   string
	Cors       *urls.Cors
	InvokeMode string
}

// urlTimeLayout is the URL configs' ISO-8601 time, e.g. 2021-12-08T23:56:21.104339Z.
const urlTimeLayout = "2006-01-02T15:04:05.000000Z"

func registerURLs(mux *http.ServeMux, d Deps) {
	mux.HandleFunc("POST /2021-10-31/functions/{name}/url", MakeCreateFunctionUrlConfigHandler(d))
	mux.HandleFunc("GET /2021-10-31/functions/{name}/url", MakeGetFunctionUrlConfigHandler(d))
	mux.HandleFunc("PUT /2021-10-31/functions/{name}/url", MakeUpdateFunctionUrlConfigHandler(d))
	mux.HandleFunc("DELETE /2021-10-31/functions/{name}/url", MakeDeleteFunctionUrlConfigHandler(d))
	mux.HandleFunc("GET /2021-10-31/functions/{name}/urls", MakeListFunctionUrlConfigsHandler(d))
}

func toURLConfig(d Deps, c urls.Config, withModified bool) FunctionUrlConfig {
	out := FunctionUrlConfig{FunctionUrl: d.URLs.FunctionURL(c), FunctionArn: d.Service.FunctionARN(c.Function),
		AuthType: c.AuthType, Cors: c.Cors, CreationTime: c.Created.Format(urlTimeLayout), InvokeMode: c.InvokeMode}
	if withModified {
		out.LastModifiedTime = c.LastModified.Format(urlTimeLayout)
	}
	return out
}

// withURLFunction is withFunction for the function URL routes: it also checks the
// function exists, and a URL config left behind by a deleted function goes with it.
func withURLFunction(d Deps, h func(w http.ResponseWriter, r *http.Request, name string)) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		if !d.Service.HasFunction(name) {
			d.URLs.Delete(name)
			writeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+d.Service.FunctionARN(name))
			return
		}
		h(w, r, name)
	})
}

// validateURLRequest checks AuthType and InvokeMode, writing the error; create requires
// AuthType.
func validateURLRequest(w http.ResponseWriter, req *functionUrlRequest, create bool) bool {
	switch {
	case req.AuthType == "" && create:
		writeValidationError(w, "authType", "null", "Member must not be null")
	case req.AuthType == urls.AuthIAM:
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException",
			"AuthType AWS_IAM is not supported by faaslab function URLs (requests are not SigV4-verified): use NONE")
	case req.AuthType != "" && req.AuthType != urls.AuthNone:
		writeValidationError(w, "authType", "'"+req.AuthType+"'", "Member must satisfy enum value set: [AWS_IAM, NONE]")
	case req.InvokeMode == urls.ModeStream:
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException",
			"InvokeMode RESPONSE_STREAM is not supported by faaslab function URLs: use BUFFERED")
	case req.InvokeMode != "" && req.InvokeMode != urls.ModeBuffered:
		writeValidationError(w, "invokeMode", "'"+req.InvokeMode+"'", "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")
	default:
		return true
	}
	return false
}

// writeValidationError is AWS's ValidationException for one field; value is quoted or null.
func writeValidationError(w http.ResponseWriter, field, value, constraint string) {
	writeError(w, http.StatusBadRequest, "ValidationException",
		"1 validation error detected: Value "+value+" at '"+field+"' failed to satisfy constraint: "+constraint)
}

// MakeCreateFunctionUrlConfigHandler serves POST /2021-10-31/functions/{name}/url (201).
func MakeCreateFunctionUrlConfigHandler(d Deps) http.HandlerFunc {
	return withURLFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		var req functionUrlRequest
		if !decodeBody(w, r, maxConfigBodyBytes, &req) || !validateURLRequest(w, &req, true) {
			return
		}
		if req.InvokeMode == "" {
			req.InvokeMode = urls.ModeBuffered
		}
		c, err := d.URLs.Create(name, req.AuthType, req.InvokeMode, req.Cors)
		writeURLResult(w, d, name, c, err, http.StatusCreated)
	})
}

// writeURLResult answers a store operation: the config with status, or Lambda's error.
// Create's answer has no LastModifiedTime.
func writeURLResult(w http.ResponseWriter, d Deps, name string, c urls.Config, err error, status int) {
	switch {
	case err == nil:
		writeJSON(w, status, toURLConfig(d, c, status != http.StatusCreated))
	case errors.Is(err, urls.ErrExists):
		writeError(w, http.StatusConflict, "ResourceConflictException",
			"Failed to create function url config for [functionArn = "+d.Service.FunctionARN(name)+"]. Error message:  FunctionUrlConfig exists for this Lambda function")
	case errors.Is(err, urls.ErrNotFound):
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
	default:
		writeServiceError(w, d, err, name)
	}
}

// MakeGetFunctionUrlConfigHandler serves GET /2021-10-31/functions/{name}/url.
func MakeGetFunctionUrlConfigHandler(d Deps) http.HandlerFunc {
	return withURLFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		c, ok := d.URLs.Get(name)
		var err error
		if !ok {
			err = urls.ErrNotFound
		}
		writeURLResult(w, d, name, c, err, http.StatusOK)
	})
}

// MakeUpdateFunctionUrlConfigHandler serves PUT /2021-10-31/functions/{name}/url.
func MakeUpdateFunctionUrlConfigHandler(d Deps) http.HandlerFunc {
	return withURLFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		var req functionUrlRequest
		if !decodeBody(w, r, maxConfigBodyBytes, &req) || !validateURLRequest(w, &req, false) {
			return
		}
		c, err := d.URLs.Update(name, req.AuthType, req.InvokeMode, req.Cors)
		writeURLResult(w, d, name, c, err, http.StatusOK)
	})
}

// MakeDeleteFunctionUrlConfigHandler serves DELETE /2021-10-31/functions/{name}/url (204).
func MakeDeleteFunctionUrlConfigHandler(d Deps) http.HandlerFunc {
	return withURLFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		if err := d.URLs.Delete(name); err != nil {
			writeURLResult(w, d, name, urls.Config{}, err, 0)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// listFunctionUrlConfigsResponse is ListFunctionUrlConfigs' answer.
type listFunctionUrlConfigsResponse struct {
	FunctionUrlConfigs []FunctionUrlConfig
	NextMarker         *string
}

// MakeListFunctionUrlConfigsHandler serves GET /2021-10-31/functions/{name}/urls: at most
// one config, since only $LATEST exists here.
func MakeListFunctionUrlConfigsHandler(d Deps) http.HandlerFunc {
	return withURLFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		out := listFunctionUrlConfigsResponse{FunctionUrlConfigs: []FunctionUrlConfig{}}
		if c, ok := d.URLs.Get(name); ok {
			out.FunctionUrlConfigs = append(out.FunctionUrlConfigs, toURLConfig(d, c, true))
		}
		writeJSON(w, http.StatusOK, out)
	})
}
