package handlers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// ThreadInfo is the credentials of one thread of the runtime process.
type ThreadInfo struct {
	TID        string `json:"tid"`
	UID        string `json:"uid"`
	CapEff     string `json:"capEff"`
	CapBnd     string `json:"capBnd"`
	NoNewPrivs string `json:"noNewPrivs"`
}

// SandboxInfoResponse describes the sandbox from inside: who the runtime runs as, on
// every thread, and its cgroup — the paper's co-residency probe (sandboxes on one host
// share the cgroup path's parent).
type SandboxInfoResponse struct {
	Hostname string       `json:"hostname"`
	Cgroup   string       `json:"cgroup"`
	Threads  []ThreadInfo `json:"threads"`
}

// SandboxInfo ignores its payload and reports the sandbox's identity and privileges.
func SandboxInfo(_ context.Context, _ []byte) ([]byte, error) {
	var out SandboxInfoResponse
	out.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		out.Cgroup = strings.TrimSpace(string(b))
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		ti := ThreadInfo{TID: filepath.Base(filepath.Dir(path))}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch k {
			case "Uid":
				ti.UID = strings.Fields(v)[0]
			case "CapEff":
				ti.CapEff = v
			case "CapBnd":
				ti.CapBnd = v
			case "NoNewPrivs":
				ti.NoNewPrivs = v
			}
		}
		out.Threads = append(out.Threads, ti)
	}
	return json.Marshal(out)
}
