package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// maxSleepMs is Lambda's longest timeout (15 min).
const maxSleepMs = 900_000

// SleepRequest is the sleep handler's payload.
type SleepRequest struct {
	Ms int64 `json:"ms"`
}

// Sleep waits {"ms": N} milliseconds (0 … 900000) and answers {"ms": N}; it stops early
// with ErrInterrupted when the invocation's context ends.
func Sleep(ctx context.Context, payload []byte) ([]byte, error) {
	ms, err := decodeMs("sleep", payload)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, interrupted("sleep", ctx.Err())
	}
	return json.Marshal(SleepRequest{Ms: ms})
}

// decodeMs reads the {"ms": N} payload of sleep and cpu and checks N is in 0 … maxSleepMs.
func decodeMs(handler string, payload []byte) (int64, error) {
	var req SleepRequest
	if err := decode(payload, &req); err != nil {
		return 0, invalidPayload(handler, `{"ms": N}`, err)
	}
	if req.Ms < 0 || req.Ms > maxSleepMs {
		return 0, invalidPayload(handler, `{"ms": N}`, fmt.Errorf("ms %d is outside 0 … %d", req.Ms, maxSleepMs))
	}
	return req.Ms, nil
}
