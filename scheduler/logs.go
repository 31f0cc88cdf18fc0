package scheduler

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// logStream is one sandbox's log stream (a CloudWatch log stream on Lambda): it receives
// the sandbox's stdout/stderr (as sandbox.Spec.Log) and the scheduler's START/END/REPORT
// lines, forwards them to the sink, and while an invocation asked for its log tail keeps
// the last LogTailBytes of that invocation.
type logStream struct {
	mu      sync.Mutex
	sink    io.WriteCloser // nil = no per-sandbox file
	capture bool
	tail    []byte
}

func openLogStream(logDir, function, sandboxID string) (*logStream, error) {
	l := &logStream{}
	if logDir == "" {
		return l, nil
	}
	dir := filepath.Join(logDir, function)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, sandboxID+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open sandbox log: %w", err)
	}
	l.sink = f
	return l, nil
}

// Write never fails: a full disk must not break the sandbox's stdout pipe.
func (l *logStream) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.sink != nil {
		l.sink.Write(p)
	}
	if l.capture {
		l.tail = appendTail(l.tail, p)
	}
	l.mu.Unlock()
	return len(p), nil
}

// startCapture begins keeping the tail of what follows.
func (l *logStream) startCapture() {
	l.mu.Lock()
	l.capture = true
	l.tail = l.tail[:0]
	l.mu.Unlock()
}

// endCapture stops capturing and returns a copy of the last LogTailBytes.
func (l *logStream) endCapture() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.capture = false
	t := l.tail
	if len(t) > LogTailBytes {
		t = t[len(t)-LogTailBytes:]
	}
	return append([]byte(nil), t...)
}

func (l *logStream) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.capture = false
	if l.sink != nil {
		err := l.sink.Close()
		l.sink = nil
		return err
	}
	return nil
}

// appendTail appends p keeping at least the last LogTailBytes, in a buffer that never
// grows past twice that.
func appendTail(buf, p []byte) []byte {
	if len(p) >= LogTailBytes {
		return append(buf[:0], p[len(p)-LogTailBytes:]...)
	}
	if len(buf)+len(p) > 2*LogTailBytes {
		keep := LogTailBytes - len(p)
		n := copy(buf, buf[len(buf)-keep:])
		buf = buf[:n]
	}
	return append(buf, p...)
}
