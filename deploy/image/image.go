// Package image holds the build context of the faaslab runtime image (Dockerfile and the
// static files of its root filesystem), embedded so that a faaslab binary installed
// anywhere can build the image without the source tree. sandbox/docker.BuildImage adds the
// binaries (faaslab-runtime, optionally iperf3) and sends the context to the engine.
package image

import (
	"embed"

	"github.com/faaslab/faaslab/runtime"
)

// Dockerfile is deploy/image/Dockerfile.
//
//go:embed Dockerfile
var Dockerfile []byte

// Rootfs holds the static files copied to the image root, under the directory "rootfs"
// (rootfs/etc/passwd, rootfs/etc/group).
//
//go:embed rootfs
var Rootfs embed.FS

// Layout of the image; the Dockerfile's comment documents the same paths.
const (
	// RuntimePath is the static faaslab-runtime binary, also the gate entrypoint.
	RuntimePath = runtime.RuntimeDir + "/faaslab-runtime"
	// BootstrapPath is Lambda's custom-runtime bootstrap, a symlink to RuntimePath.
	BootstrapPath = runtime.BootstrapPath
	// TaskDir is where function code is mounted.
	TaskDir = runtime.TaskRoot
	// UID and GID of the unprivileged user "faaslab" in the image's /etc/passwd.
	UID = 1000
	GID = 1000
)
