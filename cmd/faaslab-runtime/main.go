// Command faaslab-runtime is faaslab's static in-sandbox bootstrap (Lambda's custom-runtime
// "bootstrap"): it reads AWS_LAMBDA_RUNTIME_API and _HANDLER, then runs the Runtime API
// client loop with the built-in handler of that name (see package runtime/handlers). An
// unknown handler is reported to /init/error and the process exits 1.
//
//	faaslab-runtime                  run the bootstrap
//	faaslab-runtime gate -- CMD ...  wait for SIGUSR1, then exec CMD (docker backend)
//
// Build it static: CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/runtime/handlers"
	"github.com/faaslab/faaslab/sandbox/native/nsinit"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitNoExec   = 126
	exitNotFound = 127
)

func main() {
	// A native sandbox starts this binary as its init (argv[0] faaslab-sandbox-init): it
	// builds the sandbox's root, drops privileges and execs the function's bootstrap.
	nsinit.MaybeRun()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "gate" {
		return gate(args[1:])
	}
	if len(args) > 0 {
		fmt.Fprintf(os.Stderr, "faaslab-runtime: unexpected arguments %q: run it without arguments as a Lambda bootstrap, or as `faaslab-runtime gate -- CMD ARGS...`\n", args)
		return exitUsage
	}
	return bootstrap()
}

func bootstrap() int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		logger.Error("AWS_LAMBDA_RUNTIME_API is not set: start faaslab-runtime inside a sandbox (or set it to the runtime API's host:port)")
		return exitUsage
	}
	tuneMemory(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	client := runtime.NewClient(api)
	client.Logger = logger
	defer client.Close()

	name := os.Getenv("_HANDLER")
	h, ok := handlers.Lookup(name)
	if !ok {
		doc := runtime.ErrorDocument{
			ErrorType: runtime.ErrorTypeHandlerNotFound,
			ErrorMessage: fmt.Sprintf("unknown handler %q: set _HANDLER to one of the built-in handlers %s",
				name, strings.Join(handlers.Names(), ", ")),
		}
		logger.Error("init failed", "err", doc.ErrorMessage)
		if err := client.InitError(ctx, doc); err != nil {
			logger.Error("report init error", "err", err)
		}
		return exitFailure
	}
	err := client.Serve(ctx, trimWhenIdle(h, idleTrimAfter))
	if ctx.Err() != nil {
		return exitOK
	}
	if apiErr, ok := errors.AsType[*runtime.APIError](err); ok && apiErr.StatusCode >= 500 {
		logger.Info("runtime api asked the runtime to exit", "err", err)
	} else {
		logger.Error("runtime loop failed", "err", err)
	}
	return exitFailure
}

// idleTrimAfter is how long a sandbox waits without an invocation before handing its free
// heap back to the OS.
const idleTrimAfter = time.Second

// trimWhenIdle wraps h so that, once no invocation has run for after, the garbage of the
// last ones is collected and its memory returned: a warm idle sandbox then holds only
// its live heap instead of up to the GC's 4 MB minimum goal.
func trimWhenIdle(h handlers.Handler, after time.Duration) runtime.HandlerFunc {
	t := time.AfterFunc(after, debug.FreeOSMemory)
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		t.Stop()
		defer t.Reset(after)
		return h(ctx, payload)
	}
}

// tuneMemory makes the GC work harder as the heap nears the function's memory size (the
// cgroup limit) instead of letting the kernel OOM-kill the sandbox for garbage, unless
// GOMEMLIMIT says otherwise.
func tuneMemory(memoryMB string) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	mb, err := strconv.ParseInt(memoryMB, 10, 64)
	if err != nil || mb <= 0 {
		return
	}
	debug.SetMemoryLimit(mb << 20 * 9 / 10)
}
