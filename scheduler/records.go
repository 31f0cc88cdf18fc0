package scheduler

import (
	"encoding/json"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
)

// Outcomes of an invocation (Record.Outcome and the metric label).
const (
	OutcomeSuccess       = "success"
	OutcomeFunctionError = "function_error" // the handler returned an error
	OutcomeTimeout       = "timeout"
	OutcomeCrash         = "crash" // the runtime process exited mid-invoke
	OutcomeOOM           = "oom"   // ... killed for exceeding MemorySize
	OutcomeInitError     = "init_error"
	OutcomeThrottled     = "throttled"
	OutcomeError         = "error" // the platform failed (sandbox could not be made, ...)
)

// Start kinds.
const (
	StartCold = "cold"
	StartWarm = "warm"
	StartNone = "none" // never reached a sandbox (throttled)
)

// Record is the structured record of one invocation, written as a JSON line.
type Record struct {
	RequestID       string    `json:"request_id"`
	Function        string    `json:"function"`
	InvocationType  string    `json:"invocation_type"` // RequestResponse | Event
	MemoryMB        int       `json:"memory_mb"`
	StartTime       time.Time `json:"start_time"`
	DurationMs      float64   `json:"duration_ms"`
	BilledMs        int64     `json:"billed_ms"`
	MaxMemoryUsedMB int64     `json:"max_memory_used_mb"`
	InitMs          float64   `json:"init_ms,omitempty"`       // runtime init (Start → ready), cold only
	ColdStartMs     float64   `json:"cold_start_ms,omitempty"` // create → ready, cold only
	QueuedMs        float64   `json:"queued_ms"`
	Start           string    `json:"start"` // cold | warm | none
	SandboxID       string    `json:"sandbox_id,omitempty"`
	HostID          string    `json:"host_id"`
	Outcome         string    `json:"outcome"`
	ErrorType       string    `json:"error_type,omitempty"`
}

// BilledMs is Lambda's billed duration: the duration rounded up to the next millisecond,
// at least 1 ms.
func BilledMs(d time.Duration) int64 {
	ms := int64(math.Ceil(float64(d) / float64(time.Millisecond)))
	return max(ms, 1)
}

// mbUsed turns a byte peak into Lambda's whole megabytes (rounded up).
func mbUsed(peakBytes uint64) int64 {
	return int64((peakBytes + (1 << 20) - 1) >> 20)
}

func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startLine is Lambda's START line.
func appendStartLine(b []byte, requestID string) []byte {
	b = append(b, "START RequestId: "...)
	b = append(b, requestID...)
	return append(b, " Version: $LATEST\n"...)
}

// appendEndReport appends Lambda's END and REPORT lines (fields tab-separated, as
// CloudWatch stores them). status/errorType are set for timeouts and runtime failures.
func appendEndReport(b []byte, r *Record, duration, initDur time.Duration, cold bool, status, errorType string) []byte {
	b = append(b, "END RequestId: "...)
	b = append(b, r.RequestID...)
	b = append(b, '\n')
	return appendReport(b, r.RequestID, duration, r.MemoryMB, r.MaxMemoryUsedMB, initDur, cold, status, errorType)
}

// appendReport formats the REPORT line:
//
//	REPORT RequestId: ID\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 5.67 ms\t
func appendReport(b []byte, requestID string, duration time.Duration, memoryMB int, maxUsedMB int64, initDur time.Duration, cold bool, status, errorType string) []byte {
	b = append(b, "REPORT RequestId: "...)
	b = append(b, requestID...)
	b = append(b, "\tDuration: "...)
	b = strconv.AppendFloat(b, msFloat(duration), 'f', 2, 64)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, BilledMs(duration), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(memoryMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, maxUsedMB, 10)
	b = append(b, " MB\t"...)
	if cold {
		b = append(b, "Init Duration: "...)
		b = strconv.AppendFloat(b, msFloat(initDur), 'f', 2, 64)
		b = append(b, " ms\t"...)
	}
	if status != "" {
		b = append(b, "Status: "...)
		b = append(b, status...)
		b = append(b, '\t')
		if errorType != "" {
			b = append(b, "Error Type: "...)
			b = append(b, errorType...)
			b = append(b, '\t')
		}
	}
	return append(b, '\n')
}

// FormatReport returns the REPORT line of one invocation (with its newline); initDur > 0
// marks a cold start.
func FormatReport(requestID string, duration time.Duration, memoryMB int, maxUsedMB int64, initDur time.Duration) string {
	return string(appendReport(nil, requestID, duration, memoryMB, maxUsedMB, initDur, initDur > 0, "", ""))
}

// timeoutMessage is Lambda's text for a timed-out invocation.
func timeoutMessage(timeoutSec int) string {
	return "Task timed out after " + strconv.FormatFloat(float64(timeoutSec), 'f', 2, 64) + " seconds"
}

// recordWriter serializes JSON lines onto one writer.
type recordWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (rw *recordWriter) write(r *Record) error {
	if rw == nil || rw.w == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	rw.mu.Lock()
	_, err = rw.w.Write(b)
	rw.mu.Unlock()
	return err
}
