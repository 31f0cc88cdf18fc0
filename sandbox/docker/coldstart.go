package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faaslab/faaslab/experiments/stats"

	"github.com/docker/docker/api/types/container"

	"github.com/faaslab/faaslab/deploy/image"
	"github.com/faaslab/faaslab/sandbox"
)

// coldStartCommand is what both sides of MeasureColdStart run: the bootstrap without a
// Runtime API, which starts, complains and exits at once — the real binary's start-up.
func coldStartCommand() []string { return []string{image.BootstrapPath} }

// ColdStartMemoryMB is the memory size measured (the paper's smallest function, whose
// 0.085 CPU quota makes start-up the slowest).
const ColdStartMemoryMB = 128

// MeasureColdStart times n cold starts of the backend (Create + Start until the command
// has run and exited, as the engine reports it) against n raw `docker create && docker
// start` of the same image, command and limits (memory, CPU quota/period from the start as
// `docker run --cpus` sets them, the same cgroup parent; no hardening, no gate), until the
// same exit. Runs alternate so that drift hits both sides alike; removal is not timed.
// median(backend)/median(raw) is the backend's overhead. It can come out below 1: the
// backend applies the CPU quota only once the gate is up (see boot), so runc's container
// set-up is not throttled at 0.085 CPU as it is on the raw side.
func (b *Backend) MeasureColdStart(ctx context.Context, n int) (backendNs, rawNs []time.Duration, err error) {
	profile := b.cfg.Profile
	if profile.VCPUs == 0 {
		profile = sandbox.DefaultHostProfile()
	}
	res, err := profile.ResourcesFor(sandbox.CPUModelPaper, ColdStartMemoryMB)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-cold-%d-%d", sandbox.NamePrefix, time.Now().UnixNano()%1e9, i)
		d, err := b.timeBackendColdStart(ctx, sandbox.Spec{ID: id + "b", Function: "coldstart", Resources: res, Command: coldStartCommand()})
		if err != nil {
			return backendNs, rawNs, err
		}
		backendNs = append(backendNs, d)
		if d, err = b.timeRawColdStart(ctx, id+"r", res); err != nil {
			return backendNs, rawNs, err
		}
		rawNs = append(rawNs, d)
	}
	return backendNs, rawNs, nil
}

func (b *Backend) timeBackendColdStart(ctx context.Context, spec sandbox.Spec) (time.Duration, error) {
	t0 := time.Now()
	sb, err := b.Create(ctx, spec)
	if err != nil {
		return 0, fmt.Errorf("cold start (backend): %w", err)
	}
	defer sb.Stop(context.WithoutCancel(ctx))
	if err := sb.Start(ctx); err != nil {
		return 0, fmt.Errorf("cold start (backend): %w", err)
	}
	select {
	case <-sb.Done():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(t0), nil
}

// timeRawColdStart is `docker create` + `docker start` through the API, with the wait
// registered before the start as `docker run` does.
func (b *Backend) timeRawColdStart(ctx context.Context, name string, res sandbox.Resources) (time.Duration, error) {
	t0 := time.Now()
	created, err := b.cli.ContainerCreate(ctx,
		&container.Config{Image: b.cfg.Image, Cmd: coldStartCommand(), Labels: map[string]string{LabelScope: b.cfg.Scope}},
		&container.HostConfig{NetworkMode: "none", Resources: container.Resources{
			CgroupParent: b.cfg.CgroupParent, Memory: res.MemoryBytes, MemorySwap: res.MemoryBytes,
			CPUQuota: res.CPUQuotaUs, CPUPeriod: int64(res.CPUPeriodUs),
		}}, nil, nil, name)
	if err != nil {
		return 0, fmt.Errorf("cold start (raw): create: %w", err)
	}
	defer b.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	waitC, errC := b.cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := b.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return 0, fmt.Errorf("cold start (raw): start: %w", err)
	}
	select {
	case <-waitC:
	case err := <-errC:
		return 0, fmt.Errorf("cold start (raw): wait: %w", err)
	}
	return time.Since(t0), nil
}

// ErrNoSamples: MeasureColdStart was asked for no runs.
var ErrNoSamples = errors.New("no cold-start samples")

// ColdStartRatio is median(backend) / median(raw).
func ColdStartRatio(backendNs, rawNs []time.Duration) (float64, error) {
	mb, mr := stats.DurationQuantile(backendNs, 0.5), stats.DurationQuantile(rawNs, 0.5)
	if mb == 0 || mr == 0 {
		return 0, ErrNoSamples
	}
	return float64(mb) / float64(mr), nil
}
