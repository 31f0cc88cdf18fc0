package scheduler

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox"
)

// Runtimes a function may name.
const (
	// RuntimeFaaslab runs a built-in handler through the faaslab bootstrap.
	RuntimeFaaslab = "faaslab"
	// The custom runtimes: a zip with an executable bootstrap at its root.
	RuntimeProvided        = "provided"
	RuntimeProvidedAL2     = "provided.al2"
	RuntimeProvidedAL2023  = "provided.al2023"
	PackageTypeZip         = "Zip"
	PackageTypeImage       = "Image"
	maxReservedConcurrency = 10000
	maxEnvBytes            = 4096 // Lambda's limit on all environment variables together
)

// FunctionConfig is one registered function. Values handed out are copies; the scheduler
// never mutates a FunctionConfig it has shared.
type FunctionConfig struct {
	Name        string `json:"name"`
	Runtime     string `json:"runtime,omitempty"`
	Handler     string `json:"handler,omitempty"`
	Role        string `json:"role,omitempty"`
	Description string `json:"description,omitempty"`
	MemoryMB    int    `json:"memory_mb"`
	TimeoutSec  int    `json:"timeout_sec"`
	// EphemeralStorageMB sizes /tmp (0 in records written before it existed: the
	// scheduler's default).
	EphemeralStorageMB int               `json:"ephemeral_storage_mb,omitempty"`
	Environment        map[string]string `json:"environment,omitempty"`
	PackageType        string            `json:"package_type"`
	// Image is the container image (docker backend; PackageType Image or an override).
	Image string `json:"image,omitempty"`
	// ReservedConcurrency caps concurrent invocations; nil = unreserved.
	ReservedConcurrency *int `json:"reserved_concurrency,omitempty"`
	// EventInvoke is the asynchronous invocation config; nil = Lambda's defaults.
	EventInvoke *EventInvokeConfig `json:"event_invoke,omitempty"`
	// CodeSha256 is the base64 SHA-256 of the deployment package, as Lambda reports it.
	CodeSha256 string `json:"code_sha256"`
	CodeSize   int64  `json:"code_size"`
	// CodeDir is the unzipped package on the host ("" when there is none); mounted at /var/task.
	CodeDir      string    `json:"code_dir,omitempty"`
	LastModified time.Time `json:"last_modified"`
	RevisionID   string    `json:"revision_id"`
}

// IsCustomRuntime reports whether the function runs /var/task/bootstrap.
func IsCustomRuntime(rt string) bool {
	return rt == RuntimeProvided || rt == RuntimeProvidedAL2 || rt == RuntimeProvidedAL2023
}

// clone returns a deep copy.
func (f *FunctionConfig) clone() *FunctionConfig {
	c := *f
	c.Environment = maps.Clone(f.Environment)
	if f.ReservedConcurrency != nil {
		n := *f.ReservedConcurrency
		c.ReservedConcurrency = &n
	}
	if f.EventInvoke != nil {
		c.EventInvoke = f.EventInvoke.clone()
	}
	return &c
}

// concurrencyLimit is the reserved concurrency, or -1 when unreserved.
func (f *FunctionConfig) concurrencyLimit() int {
	if f.ReservedConcurrency == nil {
		return -1
	}
	return *f.ReservedConcurrency
}

// Code is a deployment package: a zip (ZipFile) or a container image (ImageURI).
type Code struct {
	ZipFile []byte
	// ZipPath, instead of ZipFile, is a file holding the zip (a streamed upload, see
	// NewCodeUpload); storing the code moves it into the function's directory.
	ZipPath  string
	ImageURI string
}

// CreateFunctionInput is CreateFunction's request; zero values take Lambda's defaults.
type CreateFunctionInput struct {
	Name                string
	Runtime             string
	Handler             string
	Role                string
	Description         string
	MemoryMB            int // 0 = 128
	TimeoutSec          int // 0 = 3
	EphemeralStorageMB  int // 0 = 512
	Environment         map[string]string
	PackageType         string // "" = Zip, or Image
	Code                Code
	ReservedConcurrency *int
}

// ConfigUpdate is UpdateFunctionConfiguration's request; nil fields are left as they are.
type ConfigUpdate struct {
	MemoryMB   *int
	TimeoutSec *int
	// EphemeralStorageMB resizes /tmp; running sandboxes keep theirs.
	EphemeralStorageMB *int
	Environment        *map[string]string
	Description        *string
	Handler            *string
	Role               *string
	Runtime            *string
}

var functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
var envKeyRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)

// ValidateFunctionName checks a plain function name (not an ARN).
func ValidateFunctionName(name string) error {
	if !functionNameRE.MatchString(name) {
		return paramErr("FunctionName", "FunctionName %q is invalid: use 1–64 letters, digits, hyphens or underscores", name)
	}
	return nil
}

func validateMemory(p sandbox.Profile, memoryMB int) error {
	if err := p.ValidateMemory(memoryMB); err != nil {
		return &ParamError{Field: "MemorySize", Msg: err.Error()}
	}
	if int64(memoryMB)<<20 > p.MemoryBytes {
		return paramErr("MemorySize", "MemorySize %d MB is more than host profile %s has (%d MB)", memoryMB, p.Name, p.MemoryBytes>>20)
	}
	return nil
}

func validateTimeout(timeoutSec int) error {
	if timeoutSec < MinTimeoutSec || timeoutSec > MaxTimeoutSec {
		return paramErr("Timeout", "Timeout %d s is outside %d–%d seconds", timeoutSec, MinTimeoutSec, MaxTimeoutSec)
	}
	return nil
}

// validateEphemeralStorage checks /tmp's size, with Lambda's wording.
func validateEphemeralStorage(mb int) error {
	switch {
	case mb < MinEphemeralStorageMB:
		return paramErr("EphemeralStorage", "1 validation error detected: Value '%d' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value greater than or equal to %d", mb, MinEphemeralStorageMB)
	case mb > MaxEphemeralStorageMB:
		return paramErr("EphemeralStorage", "1 validation error detected: Value '%d' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value less than or equal to %d", mb, MaxEphemeralStorageMB)
	}
	return nil
}

func validateEnvironment(env map[string]string) error {
	size := 0
	var reserved []string
	for k, v := range env {
		if !envKeyRE.MatchString(k) {
			return paramErr("Environment", "Environment variable name %q is invalid: it must start with a letter and use only letters, digits and underscores", k)
		}
		if runtime.ReservedEnv(k) {
			reserved = append(reserved, k)
		}
		size += len(k) + len(v)
	}
	if len(reserved) > 0 {
		slices.Sort(reserved)
		return paramErr("Environment", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ", "))
	}
	if size > maxEnvBytes {
		return paramErr("Environment", "Environment variables total %d bytes, more than Lambda's limit of %d bytes", size, maxEnvBytes)
	}
	return nil
}

func validateRuntime(rt, packageType string) error {
	if packageType == PackageTypeImage {
		if rt != "" {
			return paramErr("Runtime", "Runtime must be empty when PackageType is Image (got %q)", rt)
		}
		return nil
	}
	if rt == RuntimeFaaslab || IsCustomRuntime(rt) {
		return nil
	}
	return paramErr("Runtime", "Runtime %q is not supported: use %q (built-in handlers) or %s, %s, %s (a zip with a bootstrap)",
		rt, RuntimeFaaslab, RuntimeProvided, RuntimeProvidedAL2, RuntimeProvidedAL2023)
}

func validateConcurrency(n *int) error {
	if n != nil && (*n < 0 || *n > maxReservedConcurrency) {
		return paramErr("ReservedConcurrentExecutions", "ReservedConcurrentExecutions %d is outside 0–%d", *n, maxReservedConcurrency)
	}
	return nil
}

// normalize fills Lambda's defaults and validates everything but the code.
func (in *CreateFunctionInput) normalize(p sandbox.Profile) error {
	if err := ValidateFunctionName(in.Name); err != nil {
		return err
	}
	if in.PackageType == "" {
		in.PackageType = PackageTypeZip
	}
	if in.PackageType != PackageTypeZip && in.PackageType != PackageTypeImage {
		return paramErr("PackageType", "PackageType %q is invalid: use Zip or Image", in.PackageType)
	}
	if in.MemoryMB == 0 {
		in.MemoryMB = DefaultMemoryMB
	}
	if in.TimeoutSec == 0 {
		in.TimeoutSec = DefaultTimeoutSec
	}
	if in.EphemeralStorageMB == 0 {
		in.EphemeralStorageMB = MinEphemeralStorageMB
	}
	if err := validateRuntime(in.Runtime, in.PackageType); err != nil {
		return err
	}
	if in.Runtime == RuntimeFaaslab && in.Handler == "" {
		return paramErr("Handler", "Handler is required for runtime %q: name a built-in handler such as echo", RuntimeFaaslab)
	}
	if len(in.Handler) > 128 {
		return paramErr("Handler", "Handler is %d characters, more than 128", len(in.Handler))
	}
	if len(in.Description) > 256 {
		return paramErr("Description", "Description is %d characters, more than 256", len(in.Description))
	}
	if in.PackageType == PackageTypeImage && in.Code.ImageURI == "" {
		return paramErr("Code", "Code.ImageUri is required when PackageType is Image")
	}
	if IsCustomRuntime(in.Runtime) && !in.Code.hasZip() {
		return paramErr("Code", "Code.ZipFile is required for runtime %s: a zip with an executable bootstrap at its root", in.Runtime)
	}
	for _, err := range []error{validateMemory(p, in.MemoryMB), validateTimeout(in.TimeoutSec),
		validateEphemeralStorage(in.EphemeralStorageMB),
		validateEnvironment(in.Environment), validateConcurrency(in.ReservedConcurrency)} {
		if err != nil {
			return err
		}
	}
	return nil
}

// apply returns a copy of f with u applied, validated.
func (u ConfigUpdate) apply(p sandbox.Profile, f *FunctionConfig) (*FunctionConfig, error) {
	c := f.clone()
	if u.MemoryMB != nil {
		if err := validateMemory(p, *u.MemoryMB); err != nil {
			return nil, err
		}
		c.MemoryMB = *u.MemoryMB
	}
	if u.TimeoutSec != nil {
		if err := validateTimeout(*u.TimeoutSec); err != nil {
			return nil, err
		}
		c.TimeoutSec = *u.TimeoutSec
	}
	if u.EphemeralStorageMB != nil {
		if err := validateEphemeralStorage(*u.EphemeralStorageMB); err != nil {
			return nil, err
		}
		c.EphemeralStorageMB = *u.EphemeralStorageMB
	}
	if u.Environment != nil {
		if err := validateEnvironment(*u.Environment); err != nil {
			return nil, err
		}
		c.Environment = maps.Clone(*u.Environment)
	}
	if u.Description != nil {
		c.Description = *u.Description
	}
	if u.Role != nil {
		c.Role = *u.Role
	}
	if u.Handler != nil {
		if c.Runtime == RuntimeFaaslab && *u.Handler == "" {
			return nil, paramErr("Handler", "Handler is required for runtime %q", RuntimeFaaslab)
		}
		c.Handler = *u.Handler
	}
	if u.Runtime != nil && *u.Runtime != c.Runtime {
		if err := validateRuntime(*u.Runtime, c.PackageType); err != nil {
			return nil, err
		}
		if IsCustomRuntime(*u.Runtime) && c.CodeDir == "" {
			return nil, paramErr("Runtime", "Runtime %s needs a zip with a bootstrap: update the code first", *u.Runtime)
		}
		c.Runtime = *u.Runtime
	}
	return c, nil
}
