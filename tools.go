//go:build tools

// Package faaslab pins the module dependencies that the packages below use, so that
// `go mod tidy` keeps them while work on those packages is under way.
package faaslab

import (
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/containerd/cgroups/v3"
	_ "github.com/containerd/cgroups/v3/cgroup1"
	_ "github.com/containerd/cgroups/v3/cgroup2"
	_ "github.com/docker/docker/client"
	_ "github.com/google/uuid"
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "github.com/vishvananda/netns"
	_ "golang.org/x/sys/unix"
	_ "gopkg.in/yaml.v3"
)
