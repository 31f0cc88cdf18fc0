package api

import (
	"net/http"
	"os"
	"sort"
	"strconv"

	"github.com/faaslab/faaslab/scheduler"
)

// FunctionConfiguration is Lambda's FunctionConfiguration document.
type FunctionConfiguration struct {
	FunctionName     string
	FunctionArn      string
	Runtime          string `json:",omitempty"`
	Role             string
	Handler          string `json:",omitempty"`
	CodeSize         int64
	Description      string
	Timeout          int
	MemorySize       int
	LastModified     string
	CodeSha256       string
	Version          string
	Environment      *EnvironmentResponse `json:",omitempty"`
	TracingConfig    TracingConfig
	RevisionId       string
	State            string
	LastUpdateStatus string
	PackageType      string
	Architectures    []string
	EphemeralStorage EphemeralStorage
	SnapStart        SnapStart
	LoggingConfig    LoggingConfig
}

// EnvironmentResponse is a function's environment variables.
type EnvironmentResponse struct {
	Variables map[string]string
}

// TracingConfig is X-Ray's mode (always PassThrough here).
type TracingConfig struct{ Mode string }

// EphemeralStorage is /tmp's size in MB.
type EphemeralStorage struct{ Size int }

// SnapStart is never on here.
type SnapStart struct{ ApplyOn, OptimizationStatus string }

// LoggingConfig names the function's log group.
type LoggingConfig struct{ LogFormat, LogGroup string }

// lastModifiedLayout is Lambda's LastModified format, e.g. 2019-08-14T22:26:11.234+0000.
const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

func toConfiguration(d Deps, f scheduler.FunctionConfig) FunctionConfiguration {
	c := FunctionConfiguration{
		FunctionName:     f.Name,
		FunctionArn:      d.Service.FunctionARN(f.Name),
		Runtime:          f.Runtime,
		Role:             f.Role,
		Handler:          f.Handler,
		CodeSize:         f.CodeSize,
		Description:      f.Description,
		Timeout:          f.TimeoutSec,
		MemorySize:       f.MemoryMB,
		LastModified:     f.LastModified.UTC().Format(lastModifiedLayout),
		CodeSha256:       f.CodeSha256,
		Version:          "$LATEST",
		TracingConfig:    TracingConfig{Mode: "PassThrough"},
		RevisionId:       f.RevisionID,
		State:            "Active",
		LastUpdateStatus: "Successful",
		PackageType:      f.PackageType,
		Architectures:    []string{"x86_64"},
		EphemeralStorage: EphemeralStorage{Size: max(f.EphemeralStorageMB, scheduler.MinEphemeralStorageMB)},
		SnapStart:        SnapStart{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig:    LoggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + f.Name},
	}
	if len(f.Environment) > 0 {
		c.Environment = &EnvironmentResponse{Variables: f.Environment}
	}
	return c
}

// createFunctionRequest is CreateFunction's body.
type createFunctionRequest struct {
	FunctionName string
	Runtime      string
	Role         string
	Handler      string
	Description  string
	Timeout      int
	MemorySize   int
	Environment  *struct{ Variables map[string]string }
	PackageType  string
	Code         struct {
		ZipFile         []byte // base64 in JSON, decoded by encoding/json
		ImageUri        string
		S3Bucket, S3Key string
	}
	Architectures    []string
	Layers           []string
	EphemeralStorage *struct{ Size int }
}

// ephemeralStorageMB is the requested /tmp size (0 = the default).
func (req *createFunctionRequest) ephemeralStorageMB() int {
	if req.EphemeralStorage == nil {
		return 0
	}
	return req.EphemeralStorage.Size
}

// What faaslab does not emulate, said once for every request that can ask for it.
const (
	msgNoS3Code = "S3Bucket/S3Key are not supported by faaslab: upload the zip as ZipFile"
	msgNoLayers = "Layers are not supported by faaslab: put everything in the function's zip"
)

// unsupported reports request features faaslab does not emulate, naming the field.
func (req *createFunctionRequest) unsupported() (field, msg string) {
	switch {
	case req.Code.S3Bucket != "" || req.Code.S3Key != "":
		return "Code.S3Bucket", "Code." + msgNoS3Code
	case len(req.Layers) > 0:
		return "Layers", msgNoLayers
	case len(req.Architectures) > 1 || len(req.Architectures) == 1 && req.Architectures[0] != "x86_64":
		return "Architectures", "Architectures must be [\"x86_64\"] on faaslab"
	}
	return "", ""
}

// MakeCreateFunctionHandler serves CreateFunction: POST /2015-03-31/functions → 201.
func MakeCreateFunctionHandler(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setRequestID(w)
		var req createFunctionRequest
		zipPath, ok := decodeCodeBody(w, r, d, &req, "Code", "ZipFile")
		if !ok {
			return
		}
		defer removeUpload(zipPath)
		if _, msg := req.unsupported(); msg != "" {
			writeError(w, http.StatusBadRequest, "InvalidParameterValueException", msg)
			return
		}
		if req.Role == "" {
			req.Role = "arn:aws:iam::" + d.Service.AccountID() + ":role/faaslab"
		}
		in := scheduler.CreateFunctionInput{
			Name: req.FunctionName, Runtime: req.Runtime, Handler: req.Handler, Role: req.Role,
			Description: req.Description, MemoryMB: req.MemorySize, TimeoutSec: req.Timeout,
			PackageType: req.PackageType, EphemeralStorageMB: req.ephemeralStorageMB(),
			Code: scheduler.Code{ZipFile: req.Code.ZipFile, ZipPath: zipPath, ImageURI: req.Code.ImageUri},
		}
		if req.Environment != nil {
			in.Environment = req.Environment.Variables
		}
		f, err := d.Service.CreateFunction(r.Context(), in)
		writeResult(w, d, req.FunctionName, err, http.StatusCreated, func() any { return toConfiguration(d, f) })
	}
}

// getFunctionResponse is GetFunction's document.
type getFunctionResponse struct {
	Configuration FunctionConfiguration
	Code          codeLocation
	Concurrency   *concurrency `json:",omitempty"`
}

type codeLocation struct {
	RepositoryType   string
	Location         string `json:",omitempty"`
	ImageUri         string `json:",omitempty"`
	ResolvedImageUri string `json:",omitempty"`
}

type concurrency struct {
	ReservedConcurrentExecutions *int `json:",omitempty"`
}

// MakeGetFunctionHandler serves GetFunction: GET /2015-03-31/functions/{name}.
func MakeGetFunctionHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		f, err := d.Service.GetFunction(name)
		if err != nil {
			writeServiceError(w, d, err, name)
			return
		}
		resp := getFunctionResponse{Configuration: toConfiguration(d, f)}
		if f.PackageType == scheduler.PackageTypeImage {
			resp.Code = codeLocation{RepositoryType: "ECR", ImageUri: f.Image, ResolvedImageUri: f.Image}
		} else {
			resp.Code = codeLocation{RepositoryType: "S3", Location: d.Service.CodeLocation(f)}
		}
		if f.ReservedConcurrency != nil {
			resp.Concurrency = &concurrency{ReservedConcurrentExecutions: f.ReservedConcurrency}
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// MakeGetFunctionConfigurationHandler serves GET /2015-03-31/functions/{name}/configuration.
func MakeGetFunctionConfigurationHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		f, err := d.Service.GetFunction(name)
		writeResult(w, d, name, err, http.StatusOK, func() any { return toConfiguration(d, f) })
	})
}

// listFunctionsResponse is ListFunctions' document.
type listFunctionsResponse struct {
	Functions  []FunctionConfiguration
	NextMarker string `json:",omitempty"`
}

const defaultListItems = 50

// MakeListFunctionsHandler serves ListFunctions: GET /2015-03-31/functions/?Marker=&MaxItems=.
// The marker is the name of the last function of the previous page.
func MakeListFunctionsHandler(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setRequestID(w)
		q := r.URL.Query()
		maxItems := defaultListItems
		if s := q.Get("MaxItems"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 10000 {
				writeError(w, http.StatusBadRequest, "InvalidParameterValueException", "MaxItems "+strconv.Quote(s)+" must be an integer in 1–10000")
				return
			}
			maxItems = n
		}
		all := d.Service.ListFunctions()
		start := 0
		if m := q.Get("Marker"); m != "" {
			start = sort.Search(len(all), func(i int) bool { return all[i].Name > m })
		}
		resp := listFunctionsResponse{Functions: []FunctionConfiguration{}}
		for i := start; i < len(all) && len(resp.Functions) < maxItems; i++ {
			resp.Functions = append(resp.Functions, toConfiguration(d, all[i]))
		}
		if end := start + len(resp.Functions); end < len(all) {
			resp.NextMarker = all[end-1].Name
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// MakeDeleteFunctionHandler serves DeleteFunction: DELETE /2015-03-31/functions/{name} → 204.
func MakeDeleteFunctionHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		err := d.Service.DeleteFunction(r.Context(), name)
		writeResult(w, d, name, err, http.StatusNoContent, nil)
	})
}

// updateConfigurationRequest is UpdateFunctionConfiguration's body; absent fields stay.
type updateConfigurationRequest struct {
	MemorySize  *int
	Timeout     *int
	Environment *struct{ Variables map[string]string }
	Description *string
	Handler     *string
	Role        *string
	Runtime     *string
	Layers      []string
	// EphemeralStorage resizes /tmp (new sandboxes only).
	EphemeralStorage *struct{ Size int }
}

// MakeUpdateFunctionConfigurationHandler serves PUT /2015-03-31/functions/{name}/configuration.
func MakeUpdateFunctionConfigurationHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		var req updateConfigurationRequest
		if !decodeBody(w, r, maxConfigBodyBytes, &req) {
			return
		}
		if len(req.Layers) > 0 {
			writeError(w, http.StatusBadRequest, "InvalidParameterValueException", msgNoLayers)
			return
		}
		u := scheduler.ConfigUpdate{MemoryMB: req.MemorySize, TimeoutSec: req.Timeout, Description: req.Description,
			Handler: req.Handler, Role: req.Role, Runtime: req.Runtime}
		if req.EphemeralStorage != nil {
			u.EphemeralStorageMB = &req.EphemeralStorage.Size
		}
		if req.Environment != nil {
			vars := req.Environment.Variables
			if vars == nil {
				vars = map[string]string{}
			}
			u.Environment = &vars
		}
		f, err := d.Service.UpdateFunctionConfiguration(r.Context(), name, u)
		writeResult(w, d, name, err, http.StatusOK, func() any { return toConfiguration(d, f) })
	})
}

// MakeUpdateFunctionCodeHandler serves PUT /2015-03-31/functions/{name}/code.
func MakeUpdateFunctionCodeHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		var req struct {
			ZipFile         []byte
			ImageUri        string
			S3Bucket, S3Key string
		}
		zipPath, ok := decodeCodeBody(w, r, d, &req, "ZipFile")
		if !ok {
			return
		}
		defer removeUpload(zipPath)
		if req.S3Bucket != "" || req.S3Key != "" {
			writeError(w, http.StatusBadRequest, "InvalidParameterValueException", msgNoS3Code)
			return
		}
		f, err := d.Service.UpdateFunctionCode(r.Context(), name, scheduler.Code{ZipFile: req.ZipFile, ZipPath: zipPath, ImageURI: req.ImageUri})
		writeResult(w, d, name, err, http.StatusOK, func() any { return toConfiguration(d, f) })
	})
}

// MakePutFunctionConcurrencyHandler serves PUT /2017-10-31/functions/{name}/concurrency.
func MakePutFunctionConcurrencyHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		var req concurrency
		if !decodeBody(w, r, maxConfigBodyBytes, &req) {
			return
		}
		if req.ReservedConcurrentExecutions == nil {
			writeError(w, http.StatusBadRequest, "InvalidParameterValueException", "ReservedConcurrentExecutions is required")
			return
		}
		f, err := d.Service.PutFunctionConcurrency(name, req.ReservedConcurrentExecutions)
		writeResult(w, d, name, err, http.StatusOK, func() any { return concurrency{ReservedConcurrentExecutions: f.ReservedConcurrency} })
	})
}

// MakeGetFunctionConcurrencyHandler serves GET /2019-09-30/functions/{name}/concurrency.
func MakeGetFunctionConcurrencyHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		f, err := d.Service.GetFunction(name)
		writeResult(w, d, name, err, http.StatusOK, func() any { return concurrency{ReservedConcurrentExecutions: f.ReservedConcurrency} })
	})
}

// MakeDeleteFunctionConcurrencyHandler serves DELETE /2017-10-31/functions/{name}/concurrency → 204.
func MakeDeleteFunctionConcurrencyHandler(d Deps) http.HandlerFunc {
	return withFunction(d, func(w http.ResponseWriter, r *http.Request, name string) {
		_, err := d.Service.PutFunctionConcurrency(name, nil)
		writeResult(w, d, name, err, http.StatusNoContent, nil)
	})
}

// removeUpload deletes a streamed zip the scheduler did not move into its store.
func removeUpload(path string) {
	if path != "" {
		os.Remove(path)
	}
}
