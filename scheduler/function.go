package scheduler

import (
	"cmp"
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

// normalize fills Lambda's defaults and checks what only the request holds: the name and
// the package it brings. The function made of it is checked by FunctionConfig.validate.
func (in *CreateFunctionInput) normalize() error {
	if err := ValidateFunctionName(in.Name); err != nil {
		return err
	}
	in.PackageType = cmp.Or(in.PackageType, PackageTypeZip)
	in.MemoryMB = cmp.Or(in.MemoryMB, DefaultMemoryMB)
	in.TimeoutSec = cmp.Or(in.TimeoutSec, DefaultTimeoutSec)
	in.EphemeralStorageMB = cmp.Or(in.EphemeralStorageMB, MinEphemeralStorageMB)
	if in.PackageType == PackageTypeImage && in.Code.ImageURI == "" {
		return paramErr("Code", "Code.ImageUri is required when PackageType is Image")
	}
	if IsCustomRuntime(in.Runtime) && !in.Code.hasZip() {
		return paramErr("Code", "Code.ZipFile is required for runtime %s: a zip with an executable bootstrap at its root", in.Runtime)
	}
	return nil
}

// validate checks a whole configuration as it is to be stored, so that CreateFunction and
// every update enforce the same rules: an update can never give a function a
// configuration CreateFunction would refuse. It is validateSettings and validateCode;
// CreateFunction runs the first before it unpacks the package, the second after.
func (f *FunctionConfig) validate(p sandbox.Profile) error {
	if err := f.validateSettings(p); err != nil {
		return err
	}
	return f.validateCode()
}

// validateSettings checks everything but the package.
func (f *FunctionConfig) validateSettings(p sandbox.Profile) error {
	if err := ValidateFunctionName(f.Name); err != nil {
		return err
	}
	if f.PackageType != PackageTypeZip && f.PackageType != PackageTypeImage {
		return paramErr("PackageType", "PackageType %q is invalid: use Zip or Image", f.PackageType)
	}
	if err := validateRuntime(f.Runtime, f.PackageType); err != nil {
		return err
	}
	if f.Runtime == RuntimeFaaslab && f.Handler == "" {
		return paramErr("Handler", "Handler is required for runtime %q: name a built-in handler such as echo", RuntimeFaaslab)
	}
	if len(f.Handler) > 128 {
		return paramErr("Handler", "Handler is %d characters, more than 128", len(f.Handler))
	}
	if len(f.Description) > 256 {
		return paramErr("Description", "Description is %d characters, more than 256", len(f.Description))
	}
	if err := validateMemory(p, f.MemoryMB); err != nil {
		return err
	}
	if err := validateTimeout(f.TimeoutSec); err != nil {
		return err
	}
	// 0: a record written before the field existed, the scheduler's default.
	if f.EphemeralStorageMB != 0 {
		if err := validateEphemeralStorage(f.EphemeralStorageMB); err != nil {
			return err
		}
	}
	if err := validateEnvironment(f.Environment); err != nil {
		return err
	}
	return validateConcurrency(f.ReservedConcurrency)
}

// validateCode checks that the stored package fits the function: an Image function has
// its image, a custom runtime an executable bootstrap at the root of its zip.
func (f *FunctionConfig) validateCode() error {
	if f.PackageType == PackageTypeImage && f.Image == "" {
		return paramErr("Code", "Code.ImageUri is required when PackageType is Image")
	}
	if IsCustomRuntime(f.Runtime) {
		if f.CodeDir == "" {
			return paramErr("Runtime", "Runtime %s needs a zip with an executable bootstrap at its root: update the code first", f.Runtime)
		}
		return checkBootstrap(f.CodeDir)
	}
	return nil
}

// apply returns a copy of f with u applied; the caller validates the result.
func (u ConfigUpdate) apply(f *FunctionConfig) *FunctionConfig {
	c := f.clone()
	setIfGiven(&c.MemoryMB, u.MemoryMB)
	setIfGiven(&c.TimeoutSec, u.TimeoutSec)
	setIfGiven(&c.EphemeralStorageMB, u.EphemeralStorageMB)
	setIfGiven(&c.Description, u.Description)
	setIfGiven(&c.Role, u.Role)
	setIfGiven(&c.Handler, u.Handler)
	setIfGiven(&c.Runtime, u.Runtime)
	if u.Environment != nil {
		c.Environment = maps.Clone(*u.Environment)
	}
	return c
}

// setIfGiven sets *dst to *v when the update gives v.
func setIfGiven[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
