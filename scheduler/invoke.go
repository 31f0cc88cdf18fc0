package scheduler

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/faaslab/faaslab/runtime"
	"github.com/faaslab/faaslab/sandbox"
)

// Invocation types.
const (
	InvocationRequestResponse = "RequestResponse"
	InvocationEvent           = "Event"
)

// Lambda's limits on an invocation's payload, enforced where requests arrive (the Lambda
// API's Invoke, function URLs).
const (
	MaxSyncPayloadBytes = 6 * 1024 * 1024 // 6291456: RequestResponse
	// MaxAsyncPayloadBytes is 1 MB: AWS raised it from 256 KB (Invoke API reference).
	MaxAsyncPayloadBytes = 1024 * 1024 // 1048576: Event
)

// InvokeRequest is one invocation.
type InvokeRequest struct {
	Function  string
	RequestID string // "" = a new UUID
	// Payload is handed to the runtime as is; the scheduler does not keep it after Invoke.
	Payload       []byte
	ClientContext string // decoded X-Amz-Client-Context
	// TraceID is the caller's X-Amzn-Trace-Id, handed to the runtime as
	// Lambda-Runtime-Trace-Id (_X_AMZN_TRACE_ID in the function); "" = a new one.
	TraceID string
	// Tail asks for the last LogTailBytes of the invocation's log in InvokeResult.LogTail.
	Tail           bool
	InvocationType string // "" = RequestResponse
}

// InvokeResult is what a finished invocation produced. Function failures (handler error,
// timeout, crash, OOM, init failure) are results with FunctionError set, not errors.
type InvokeResult struct {
	RequestID string
	// Payload is the handler's response, or Lambda's error document on a function error.
	Payload       []byte
	FunctionError bool
	LogTail       []byte
	Record        Record
}

// Invoke runs one invocation synchronously. It returns an error only when the invocation
// could not run: ErrFunctionNotFound, ErrTooManyRequests (*ThrottleError), ErrClosed, ctx's
// error while queued, or a platform failure (sandbox creation). Once a sandbox is granted
// the invocation runs to completion even if ctx ends, as on Lambda.
func (s *Scheduler) Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResult, error) {
	if req.RequestID == "" {
		req.RequestID = uuid.NewString()
	}
	if req.InvocationType == "" {
		req.InvocationType = InvocationRequestResponse
	}
	startWait := time.Now()
	if req.TraceID == "" {
		// Set once: an Event's retries keep the trace of the first attempt.
		req.TraceID = NewTraceID(startWait)
	}
	sync := req.InvocationType != InvocationEvent
	g, err := s.acquire(ctx, req.Function, sync)
	if err != nil {
		if errors.Is(err, ErrTooManyRequests) {
			s.finishRecord(nil, &Record{RequestID: req.RequestID, Function: req.Function,
				InvocationType: req.InvocationType, StartTime: startWait, Start: StartNone,
				HostID: s.cfg.HostID, Outcome: OutcomeThrottled})
		}
		return nil, err
	}
	// A warm sandbox whose process exited while idle (before the watcher noticed) is
	// not this invocation's fault: drop it and ask again.
	for !g.cold && g.inst.ctx.Err() != nil {
		s.release(g.inst, true, "process exited while idle")
		s.wg.Done()
		if g, err = s.acquire(ctx, req.Function, sync); err != nil {
			return nil, err
		}
	}
	defer s.wg.Done()
	res := &InvokeResult{RequestID: req.RequestID}
	rec := &res.Record
	rec.RequestID, rec.Function, rec.InvocationType = req.RequestID, req.Function, req.InvocationType
	rec.HostID, rec.QueuedMs = s.cfg.HostID, msFloat(g.queued)
	if !g.cold {
		rec.Start = StartWarm
		return res, s.run(g.inst, req, res, 0)
	}
	rec.Start = StartCold
	inst, initDur, err := s.coldStart(g, req, res)
	if err != nil || inst == nil {
		return res, err // platform failure, or an init failure already written into res
	}
	return res, s.run(inst, req, res, initDur)
}

// InvokeAsync accepts an Event invocation and runs it in the background, retrying it as
// Lambda does (see runEvent). It fails at once when the function does not exist or too
// many events are pending.
func (s *Scheduler) InvokeAsync(req *InvokeRequest) error {
	if req.RequestID == "" {
		req.RequestID = uuid.NewString()
	}
	req.InvocationType = InvocationEvent
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.fns[req.Function] == nil:
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrFunctionNotFound, req.Function)
	case s.asyncN >= s.cfg.MaxAsync:
		s.mu.Unlock()
		return &ThrottleError{Reason: ReasonQueueFull, Msg: fmt.Sprintf(
			"Rate Exceeded. %d asynchronous invocations are already pending on this host", s.cfg.MaxAsync)}
	}
	s.asyncN++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.runEvent(req, time.Now())
		s.mu.Lock()
		s.asyncN--
		s.mu.Unlock()
	}()
	return nil
}

// NewTraceID is an X-Ray trace header as Lambda sends one when the caller gave none:
// Root=1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>;Parent=<64 random bits>;Sampled=0.
// Lambda always sends Lambda-Runtime-Trace-Id, and SDKs read _X_AMZN_TRACE_ID from it.
func NewTraceID(now time.Time) string {
	var b [24]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(now.Unix()))
	binary.BigEndian.PutUint64(b[4:12], rand.Uint64())
	binary.BigEndian.PutUint32(b[12:16], rand.Uint32())
	binary.BigEndian.PutUint64(b[16:24], rand.Uint64())
	h := hex.EncodeToString(b[:])
	return "Root=1-" + h[:8] + "-" + h[8:32] + ";Parent=" + h[32:48] + ";Sampled=0"
}

// run performs the invocation on a busy sandbox and releases it.
func (s *Scheduler) run(inst *instance, req *InvokeRequest, res *InvokeResult, initDur time.Duration) error {
	cfg := inst.cfg
	rec := &res.Record
	rec.SandboxID, rec.MemoryMB = inst.id, cfg.MemoryMB
	if req.Tail && res.Record.Start != StartCold {
		inst.log.startCapture() // a cold start began capturing at create, to include init output
	}
	inst.buf = appendStartLine(inst.buf[:0], req.RequestID)
	inst.log.Write(inst.buf)

	start := time.Now()
	// Whole milliseconds: the runtime sees the deadline as Lambda-Runtime-Deadline-Ms, so
	// a handler watching it must not expire before the scheduler's own timer does.
	deadline := start.Add(time.Duration(cfg.TimeoutSec) * time.Second).Truncate(time.Millisecond)
	ctx, cancel := context.WithDeadline(inst.ctx, deadline)
	resp, err := inst.ep.Invoke(ctx, runtime.Invocation{
		RequestID:     req.RequestID,
		Payload:       req.Payload,
		Deadline:      deadline,
		FunctionARN:   inst.fs.arn,
		ClientContext: req.ClientContext,
		TraceID:       req.TraceID,
	})
	// An answer that arrives at the deadline is a timeout too, as on Lambda: a handler
	// watching its own deadline (Lambda-Runtime-Deadline-Ms) races the timer otherwise.
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded) || !time.Now().Before(deadline)
	cancel()
	duration := time.Since(start)
	st, _ := inst.sb.Stats()

	var status, errType string
	discard := false
	switch {
	case err == nil && !timedOut:
		res.Payload, res.FunctionError = resp.Payload, resp.FunctionError
		rec.Outcome = OutcomeSuccess
		if resp.FunctionError {
			rec.Outcome, errType = OutcomeFunctionError, resp.ErrorType
		}
	case errors.Is(context.Cause(inst.ctx), errSandboxExited):
		discard = true
		status = "error"
		rec.Outcome, errType = s.exitCause(inst, st)
		res.Payload = errorDoc(errType, exitMessage(req.RequestID, inst, errType))
		res.FunctionError = true
	case timedOut:
		discard = true
		status = "timeout"
		rec.Outcome, errType = OutcomeTimeout, runtime.ErrorTypeTimeout
		msg := timeoutMessage(cfg.TimeoutSec)
		inst.buf = append(inst.buf[:0], time.Now().UTC().Format("2006-01-02T15:04:05.000Z")...)
		inst.buf = append(append(append(append(inst.buf, ' '), req.RequestID...), ' '), msg...)
		inst.log.Write(append(inst.buf, '\n'))
		res.Payload = errorDoc(errType, "RequestId: "+req.RequestID+" Error: "+msg)
		res.FunctionError = true
	default:
		// The runtime API failed or the scheduler is closing: not the function's fault.
		discard = true
		rec.Outcome = OutcomeError
		if c := context.Cause(inst.ctx); c != nil {
			err = c
		}
		err = fmt.Errorf("invoke %s on sandbox %s: %w", cfg.Name, inst.id, err)
	}
	inst.oomKills = st.OOMKills
	rec.ErrorType = errType
	rec.StartTime, rec.DurationMs, rec.BilledMs = start, msFloat(duration), BilledMs(duration)
	rec.MaxMemoryUsedMB = mbUsed(st.MemoryPeakBytes)
	inst.buf = appendEndReport(inst.buf[:0], rec, duration, initDur, rec.Start == StartCold, status, errType)
	inst.log.Write(inst.buf)
	if req.Tail {
		res.LogTail = inst.log.endCapture()
	}
	s.finishRecord(&inst.fs.fm, rec)
	inst.fs.fm.duration.Observe(duration.Seconds())
	s.release(inst, discard, rec.Outcome)
	if err != nil && rec.Outcome == OutcomeError {
		return err
	}
	return nil
}

// exitCause tells an OOM kill (new oom kills in the cgroup) from another exit.
func (s *Scheduler) exitCause(inst *instance, st sandbox.Stats) (outcome, errType string) {
	if st.OOMKills > inst.oomKills {
		return OutcomeOOM, runtime.ErrorTypeOutOfMemory
	}
	return OutcomeCrash, runtime.ErrorTypeExitError
}

func exitMessage(requestID string, inst *instance, errType string) string {
	msg := "RequestId: " + requestID + " Error: "
	if e := inst.sb.ExitError(); e != nil {
		msg += "Runtime exited with error: " + e.Error()
	} else {
		msg += "Runtime exited without providing a reason"
	}
	if errType == runtime.ErrorTypeOutOfMemory {
		msg += fmt.Sprintf(" (out of memory: the function exceeded its MemorySize of %d MB)", inst.cfg.MemoryMB)
	}
	return msg
}

// errorDoc is Lambda's error document.
func errorDoc(errType, msg string) []byte {
	b, _ := json.Marshal(runtime.ErrorDocument{ErrorMessage: msg, ErrorType: errType})
	return b
}

// finishRecord writes the record and counts the invocation.
func (s *Scheduler) finishRecord(fm *fnMetrics, rec *Record) {
	s.m.countInvocation(fm, rec.Function, rec.Outcome, rec.Start)
	s.m.countBilled(fm, rec)
	if err := s.records.write(rec); err != nil {
		s.log.Warn("write invocation record failed", "err", err)
	}
}

// coldStart builds a sandbox for g: create → attach network → register with the
// Runtime API → start → wait until ready. On success the instance is busy. On an init
// failure it writes the function error into res and returns a nil instance; on a platform
// failure it returns the error. Either way everything made is undone.
func (s *Scheduler) coldStart(g grant, req *InvokeRequest, res *InvokeResult) (*instance, time.Duration, error) {
	cfg, fs := g.cfg, g.fs
	inst := &instance{id: s.newSandboxID(cfg.Name), fs: fs, gen: g.gen, cfg: cfg}
	inst.ctx, inst.cancel = context.WithCancelCause(s.ctx)
	rec := &res.Record
	rec.SandboxID, rec.MemoryMB = inst.id, cfg.MemoryMB
	t0 := time.Now()
	fail := func(err error) (*instance, time.Duration, error) {
		s.teardownFailed(inst)
		s.coldStartFailed(fs, cfg)
		rec.Outcome, rec.StartTime = OutcomeError, t0
		s.finishRecord(nil, rec)
		s.log.Warn("cold start failed", "function", cfg.Name, "sandbox", inst.id, "err", err)
		return nil, 0, err
	}
	var err error
	if inst.log, err = openLogStream(s.cfg.LogDir, cfg.Name, inst.id); err != nil {
		inst.log = &logStream{}
		return fail(err)
	}
	if req.Tail {
		inst.log.startCapture()
	}
	spec, err := s.spec(inst, cfg)
	// Environment may have reserved per-sandbox Runtime API resources (network mode
	// shared opens a listener): teardown must release them even if Register never runs.
	// Unregister is idempotent.
	inst.registered = true
	if err != nil {
		return fail(err)
	}
	setupCtx, cancel := context.WithTimeout(inst.ctx, s.cfg.InitTimeout+sandbox.StopTimeout)
	defer cancel()
	if inst.sb, err = s.deps.Backend.Create(setupCtx, spec); err != nil {
		return fail(fmt.Errorf("create sandbox %s: %w", inst.id, err))
	}
	att, err := s.deps.Network.Attach(setupCtx, NetworkEndpoint{SandboxID: inst.id, Function: cfg.Name,
		MemoryMB: cfg.MemoryMB, NetNSPath: inst.sb.NetNSPath(), PID: inst.sb.PID()})
	if err != nil {
		return fail(fmt.Errorf("attach network of sandbox %s: %w", inst.id, err))
	}
	inst.attached = true
	inst.ep = s.deps.Runtime.Register(inst.id, att.IP)
	if err := inst.sb.Start(setupCtx); err != nil {
		return fail(fmt.Errorf("start sandbox %s: %w", inst.id, err))
	}
	tStart := time.Now()
	errType, payload, err := s.waitReady(inst, req.RequestID)
	initDur, coldDur := time.Since(tStart), time.Since(t0)
	if err != nil {
		return fail(err)
	}
	if errType != "" {
		s.initFailed(inst, req, res, errType, payload, initDur)
		return nil, initDur, nil
	}
	if a, ok := inst.sb.(sandbox.Activator); ok {
		if err := a.Activate(setupCtx); err != nil {
			return fail(fmt.Errorf("activate sandbox %s: %w", inst.id, err))
		}
	}
	fs.fm.coldStart.Observe(coldDur.Seconds())
	rec.InitMs, rec.ColdStartMs = msFloat(initDur), msFloat(coldDur)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fail(ErrClosed)
	}
	fs.starting--
	fs.busy++
	inst.state = stateBusy
	s.live[inst] = struct{}{}
	fs.publish()
	s.mu.Unlock()
	go s.watch(inst)
	s.log.Debug("cold start", "function", cfg.Name, "sandbox", inst.id, "ip", att.IP, "init", initDur, "total", coldDur)
	return inst, initDur, nil
}

// waitReady waits for the runtime's first /invocation/next. A function-caused failure
// comes back as errType + payload; a platform one (shutdown) as err.
func (s *Scheduler) waitReady(inst *instance, requestID string) (errType string, payload []byte, err error) {
	timer := time.NewTimer(s.cfg.InitTimeout)
	defer timer.Stop()
	select {
	case <-inst.ep.Ready():
		return "", nil, nil
	case r := <-inst.ep.InitError():
		t := r.ErrorType
		if t == "" {
			t = runtime.ErrorTypeInitError
		}
		if len(r.Payload) == 0 {
			r.Payload = errorDoc(t, "the runtime reported an init error without a message")
		}
		return t, r.Payload, nil
	case <-inst.sb.Done():
		st, _ := inst.sb.Stats()
		_, t := s.exitCause(inst, st)
		return t, errorDoc(t, exitMessage(requestID, inst, t)), nil
	case <-timer.C:
		msg := fmt.Sprintf("RequestId: %s Error: the runtime did not ask for an invocation within the init timeout of %.2f seconds", requestID, s.cfg.InitTimeout.Seconds())
		return runtime.ErrorTypeTimeout, errorDoc(runtime.ErrorTypeTimeout, msg), nil
	case <-inst.ctx.Done():
		return "", nil, context.Cause(inst.ctx)
	}
}

// initFailed turns a failed init into the invocation's function error and undoes the sandbox.
func (s *Scheduler) initFailed(inst *instance, req *InvokeRequest, res *InvokeResult, errType string, payload []byte, initDur time.Duration) {
	rec := &res.Record
	st, _ := inst.sb.Stats()
	rec.Outcome, rec.ErrorType, rec.StartTime = OutcomeInitError, errType, time.Now()
	rec.InitMs, rec.BilledMs = msFloat(initDur), BilledMs(0)
	rec.MaxMemoryUsedMB = mbUsed(st.MemoryPeakBytes)
	b := appendStartLine(nil, req.RequestID)
	b = appendEndReport(b, rec, 0, initDur, true, "error", errType)
	inst.log.Write(b)
	if req.Tail {
		res.LogTail = inst.log.endCapture()
	}
	res.Payload, res.FunctionError = payload, true
	s.teardownFailed(inst)
	s.coldStartFailed(inst.fs, inst.cfg)
	s.finishRecord(nil, rec)
	s.log.Info("sandbox init failed", "function", inst.cfg.Name, "sandbox", inst.id, "error_type", errType)
}

// coldStartFailed gives back what the grant reserved (see undoColdLocked).
func (s *Scheduler) coldStartFailed(fs *fnState, cfg *FunctionConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.undoColdLocked(fs, cfg)
}

// spec is the sandbox.Spec of a new sandbox of cfg.
func (s *Scheduler) spec(inst *instance, cfg *FunctionConfig) (sandbox.Spec, error) {
	res, err := s.cfg.Profile.ResourcesFor(s.cfg.CPUModel, cfg.MemoryMB)
	if err != nil {
		return sandbox.Spec{}, err
	}
	tmpBytes := s.cfg.TmpBytes
	if cfg.EphemeralStorageMB > 0 {
		tmpBytes = int64(cfg.EphemeralStorageMB) << 20
	}
	spec := sandbox.Spec{ID: inst.id, Function: cfg.Name, Resources: res, TmpBytes: tmpBytes,
		Image: cfg.Image, Log: inst.log}
	switch {
	case cfg.PackageType == PackageTypeImage:
		// The image's own entrypoint runs.
	case IsCustomRuntime(cfg.Runtime):
		spec.Command = []string{runtime.TaskRoot + "/bootstrap"}
	default:
		if s.cfg.RuntimeBin == "" {
			return spec, errors.New("runtime faaslab needs Config.RuntimeBin (the faaslab-runtime bootstrap)")
		}
		spec.Command = []string{runtime.BootstrapPath}
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: s.cfg.RuntimeBin, Target: runtime.BootstrapPath, ReadOnly: true})
	}
	if cfg.CodeDir != "" {
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: cfg.CodeDir, Target: runtime.TaskRoot, ReadOnly: true})
	}
	spec.Mounts = append(spec.Mounts, s.cfg.Mounts...)
	spec.Env = s.deps.Runtime.Environment(SandboxEnv{
		SandboxID: inst.id, FunctionName: cfg.Name, FunctionARN: inst.fs.arn, Version: "$LATEST",
		Handler: cfg.Handler, Runtime: cfg.Runtime, MemoryMB: cfg.MemoryMB, TimeoutSec: cfg.TimeoutSec,
		Region: s.cfg.Region, LogGroup: "/aws/lambda/" + cfg.Name, Started: time.Now(), TaskRoot: runtime.TaskRoot,
		User: maps.Clone(cfg.Environment),
	})
	return spec, nil
}
