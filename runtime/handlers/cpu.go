package handlers

import (
	"context"
	"encoding/json"
	"time"
)

// CPURequest is the cpu handler's payload.
type CPURequest struct {
	Ms int64 `json:"ms"`
}

// CPUResponse is the cpu handler's answer. Iterations measure the CPU share the sandbox
// got: under a small CFS quota the same wall time buys fewer of them.
type CPUResponse struct {
	Ms         int64  `json:"ms"`
	Iterations uint64 `json:"iterations"`
	ElapsedMs  int64  `json:"elapsedMs"`
}

// cpuChunk is how many iterations run between clock reads (a few µs of work).
const cpuChunk = 4096

// CPU burns one core for {"ms": N} milliseconds of wall time (0 … 900000).
func CPU(ctx context.Context, payload []byte) ([]byte, error) {
	ms, err := decodeMs("cpu", payload)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	end := start.Add(time.Duration(ms) * time.Millisecond)
	var iterations uint64
	x := uint64(start.UnixNano()) | 1
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return nil, interrupted("cpu", ctx.Err())
		default:
		}
		x = burn(x, cpuChunk)
		iterations += cpuChunk
	}
	if x == 0 {
		// Never true (xorshift of a non-zero seed); keeps the work observable to the compiler.
		iterations++
	}
	return json.Marshal(CPUResponse{
		Ms:         ms,
		Iterations: iterations,
		ElapsedMs:  time.Since(start).Milliseconds(),
	})
}

// burn runs n rounds of xorshift64.
func burn(x uint64, n int) uint64 {
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}
