package runtime

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Defaults of the sandbox environment, as Lambda sets them.
const (
	DefaultRegion        = "us-east-1"
	DefaultVersion       = "$LATEST"
	DefaultExecutionEnv  = "AWS_Lambda_faaslab"
	DefaultPath          = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
	DefaultLDLibraryPath = "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
	DefaultLang          = "en_US.UTF-8"
	// TaskRoot is where function code is (LAMBDA_TASK_ROOT), read-only.
	TaskRoot = "/var/task"
	// RuntimeDir holds the runtime (LAMBDA_RUNTIME_DIR); BootstrapPath is the faaslab
	// bootstrap in it, which runs the built-in handlers.
	RuntimeDir    = "/var/runtime"
	BootstrapPath = RuntimeDir + "/bootstrap"
)

// EnvConfig describes one sandbox for Environment. Empty fields take Lambda's defaults.
type EnvConfig struct {
	// RuntimeAPI is host:port where the sandbox reaches the Runtime API (the bridge IP).
	RuntimeAPI   string
	FunctionName string
	MemoryMB     int
	Version      string // "" = $LATEST
	Handler      string // _HANDLER
	Region       string // AWS_REGION and AWS_DEFAULT_REGION; "" = us-east-1
	ExecutionEnv string // "" = AWS_Lambda_faaslab
	LogGroupName string // "" = /aws/lambda/FunctionName
	// LogStreamName "" = "YYYY/MM/DD/[Version]SandboxID" (date of Started, UTC; without the
	// date when Started is zero).
	LogStreamName string
	SandboxID     string
	Started       time.Time
	// InitializationType "" = on-demand (Lambda: on-demand, provisioned-concurrency, snap-start).
	InitializationType string
	// Platform are variables the platform adds to every sandbox, as Lambda adds an
	// execution role's credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN and the object store's AWS_ENDPOINT_URL_S3 / AWS_CA_BUNDLE. A
	// user variable of the same name wins unless the name is reserved.
	Platform map[string]string
	// User are the function's own variables (Environment.Variables). They may replace LANG,
	// PATH and LD_LIBRARY_PATH but never a reserved variable (see ReservedEnv).
	User map[string]string
}

// reservedEnv are the variables Lambda sets and refuses to let a function configure.
var reservedEnv = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}

// ReservedEnv reports whether a function may not set the variable name (Lambda answers
// such a configuration with InvalidParameterValueException).
func ReservedEnv(name string) bool {
	return slices.Contains(reservedEnv, name)
}

// Environment builds the sandbox environment ("KEY=value" entries) of Lambda: the reserved
// variables, TZ/LANG/PATH/LD_LIBRARY_PATH (which user variables may replace), then the user
// variables in key order. Reserved user variables are dropped.
func Environment(c EnvConfig) []string {
	version := orDefault(c.Version, DefaultVersion)
	region := orDefault(c.Region, DefaultRegion)
	stream := c.LogStreamName
	if stream == "" {
		stream = "[" + version + "]" + c.SandboxID
		if !c.Started.IsZero() {
			stream = c.Started.UTC().Format("2006/01/02/") + stream
		}
	}
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + c.RuntimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME=" + c.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(c.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=" + version,
		"_HANDLER=" + c.Handler,
		"LAMBDA_TASK_ROOT=" + TaskRoot,
		"LAMBDA_RUNTIME_DIR=" + RuntimeDir,
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_EXECUTION_ENV=" + orDefault(c.ExecutionEnv, DefaultExecutionEnv),
		"AWS_LAMBDA_LOG_GROUP_NAME=" + orDefault(c.LogGroupName, "/aws/lambda/"+c.FunctionName),
		"AWS_LAMBDA_LOG_STREAM_NAME=" + stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE=" + orDefault(c.InitializationType, "on-demand"),
	}
	for _, k := range sortedKeys(c.Platform) {
		if _, mine := c.User[k]; mine && !ReservedEnv(k) {
			continue
		}
		env = append(env, k+"="+c.Platform[k])
	}
	// Lambda sets these too but lets a function replace them (TZ is how functions change
	// their time zone).
	overridable := [][2]string{
		{"TZ", ":UTC"},
		{"LANG", DefaultLang},
		{"PATH", DefaultPath},
		{"LD_LIBRARY_PATH", DefaultLDLibraryPath},
	}
	for _, kv := range overridable {
		v, ok := c.User[kv[0]]
		if !ok {
			v = kv[1]
		}
		env = append(env, kv[0]+"="+v)
	}
	keys := make([]string, 0, len(c.User))
	for k := range c.User {
		if k == "TZ" || k == "LANG" || k == "PATH" || k == "LD_LIBRARY_PATH" || ReservedEnv(k) || k == "" {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+c.User[k])
	}
	return env
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// BinaryName is the static bootstrap's file name on the host.
const BinaryName = "faaslab-runtime"

// FindBinary locates the host's faaslab-runtime: $FAASLAB_RUNTIME_BIN, then next to the
// running executable, then PATH. The daemon and the image builder both use it.
func FindBinary() (string, error) {
	if p := os.Getenv("FAASLAB_RUNTIME_BIN"); p != "" {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), BinaryName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(BinaryName); err == nil {
		return p, nil
	}
	return "", errors.New("faaslab-runtime binary not found: build it with `make build` " +
		"(CGO_ENABLED=0 go build ./cmd/faaslab-runtime) or set FAASLAB_RUNTIME_BIN")
}

// GateReadyComm is the process name (/proc/PID/comm) the docker gate (faaslab-runtime
// gate) takes once it handles SIGUSR1: a backend waits for it before releasing the gate.
// Until then a SIGUSR1 is lost (sandbox/docker/gate.go tells why).
const GateReadyComm = "faaslab-gate"
