package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

// maxAllocMB bounds a request well above any function memory (Lambda's maximum is 10240 MB).
const maxAllocMB = 64 << 10

// AllocRequest is the alloc handler's payload.
type AllocRequest struct {
	MB int `json:"mb"`
	// HoldMs keeps the memory for this long before answering (to be seen by a sampler).
	HoldMs int64 `json:"holdMs,omitempty"`
}

// AllocResponse is the alloc handler's answer.
type AllocResponse struct {
	MB    int   `json:"mb"`
	Bytes int64 `json:"bytes"`
	Pages int64 `json:"pages"`
}

// Alloc allocates {"mb": N} MiB, writes to every page so it is resident (and counts against
// the sandbox's memory limit: more than the limit gets the sandbox OOM-killed), holds it
// until it answers, then hands the memory back to the OS so an idle sandbox stays small.
func Alloc(ctx context.Context, payload []byte) ([]byte, error) {
	var req AllocRequest
	if err := decode(payload, &req); err != nil {
		return nil, invalidPayload("alloc", `{"mb": N}`, err)
	}
	if req.MB < 0 || req.MB > maxAllocMB || req.HoldMs < 0 || req.HoldMs > maxSleepMs {
		return nil, invalidPayload("alloc", `{"mb": N}`,
			fmt.Errorf("mb %d or holdMs %d out of range (0 … %d, 0 … %d)", req.MB, req.HoldMs, maxAllocMB, maxSleepMs))
	}
	resp, err := allocAndTouch(ctx, req)
	// The buffer is garbage now; return it at once rather than at the next GC cycle.
	debug.FreeOSMemory()
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func allocAndTouch(ctx context.Context, req AllocRequest) (AllocResponse, error) {
	size := int64(req.MB) << 20
	buf := make([]byte, size)
	page := int64(os.Getpagesize())
	var pages int64
	for off := int64(0); off < size; off += page {
		buf[off] = 1
		pages++
	}
	if req.HoldMs > 0 {
		t := time.NewTimer(time.Duration(req.HoldMs) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return AllocResponse{}, interrupted("alloc", ctx.Err())
		}
	}
	var sum int64
	for off := int64(0); off < size; off += page {
		sum += int64(buf[off])
	}
	return AllocResponse{MB: req.MB, Bytes: size, Pages: sum}, nil
}
