package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/faaslab/faaslab/runtime"
)

// gate holds a container's command until the backend has plumbed its network: it waits
// for SIGUSR1, then replaces itself with CMD (same pid, same environment). SIGTERM or
// SIGINT while waiting exit 128+signal.
func gate(args []string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	// /proc/self/comm names the thread group leader, whichever thread writes it.
	if err := os.WriteFile("/proc/self/comm", []byte(runtime.GateReadyComm), 0); err != nil {
		fmt.Fprintf(os.Stderr, "faaslab-runtime gate: cannot announce readiness in /proc/self/comm: %v\n", err)
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "faaslab-runtime gate: no command: use `faaslab-runtime gate -- CMD ARGS...`")
		return exitUsage
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "faaslab-runtime gate: %v: give an absolute path or put it on PATH\n", err)
		return exitNotFound
	}
	if sig := <-sigs; sig != syscall.SIGUSR1 {
		return 128 + int(sig.(syscall.Signal))
	}
	signal.Stop(sigs)
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintf(os.Stderr, "faaslab-runtime gate: exec %s: %v\n", path, err)
	return exitNoExec
}
