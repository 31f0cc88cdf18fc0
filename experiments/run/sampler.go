package run

import (
	"context"
	"sync"
	"time"

	"github.com/faaslab/faaslab/experiments/record"
	"github.com/faaslab/faaslab/experiments/target"
)

// sampler reads a host's counters every interval from just before the barrier until
// after the last answer, so the analysis has a baseline and the tail of every transfer.
type sampler struct {
	ctx     context.Context
	h       target.Host
	trialID string
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples []record.Sample
}

// startSampler takes the first sample before it returns (the baseline before release).
func startSampler(ctx context.Context, h target.Host, trialID string, every time.Duration) *sampler {
	sctx, cancel := context.WithCancel(ctx)
	s := &sampler{ctx: ctx, h: h, trialID: trialID, cancel: cancel, done: make(chan struct{})}
	s.take(sctx, h, trialID)
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
				s.take(sctx, h, trialID)
			}
		}
	}()
	return s
}

// take reads one sample; a failed read is skipped (a gap, not a failed trial).
func (s *sampler) take(ctx context.Context, h target.Host, trialID string) {
	ns, err := h.Sample(ctx)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, record.Sample{TrialID: trialID, Host: h.Name(), Sample: ns})
	s.mu.Unlock()
}

// stop takes a last sample after the last answer and returns them all in time order.
func (s *sampler) stop() []record.Sample {
	s.cancel()
	<-s.done
	if s.ctx.Err() == nil {
		s.take(s.ctx, s.h, s.trialID)
	}
	return s.samples
}
