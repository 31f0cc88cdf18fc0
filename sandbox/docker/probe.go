package docker

import (
	"context"
	"time"

	dockerclient "github.com/docker/docker/client"

	"github.com/faaslab/faaslab/internal/probe"
)

// Probe reports whether a Docker Engine answers, and its API version.
func Probe(ctx context.Context) probe.Section {
	s := probe.Section{Title: "docker"}
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		s.Checks = append(s.Checks, probe.Check{Name: "engine", Detail: err.Error()})
		return s
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ping, err := cli.Ping(ctx)
	if err != nil {
		s.Checks = append(s.Checks, probe.Check{Name: "engine", Detail: "not reachable (run `make docker-up` for --backend docker): " + err.Error()})
		return s
	}
	s.Checks = append(s.Checks, probe.Check{Name: "engine", OK: true, Detail: "API " + ping.APIVersion})
	return s
}
