package docker

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

func TestPhaseDebug(t *testing.T) {
	be := newTestBackend(t)
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		spec := testSpec(t, ColdStartCommand...)
		t0 := time.Now()
		cfg, hc := be.containerConfig(spec)
		created, err := be.cli.ContainerCreate(ctx, cfg, hc, nil, nil, spec.ID)
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		waitC, _ := be.cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
		t2 := time.Now()
		be.cli.ContainerStart(ctx, created.ID, container.StartOptions{})
		t3 := time.Now()
		be.cli.ContainerInspect(ctx, created.ID)
		t4 := time.Now()
		be.cli.ContainerKill(ctx, created.ID, "SIGUSR1")
		t5 := time.Now()
		<-waitC
		t6 := time.Now()
		be.cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
		t.Logf("create %v wait %v start %v inspect %v kill %v exit %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t5.Sub(t4), t6.Sub(t5))
	}
}
