package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Client is the sandbox side of the Runtime API: it fetches invocations and posts answers
// over one kept-alive HTTP/1.1 connection, written directly rather than through
// http.Transport so that each call is one write and one read in the calling goroutine.
// A Client is not safe for concurrent use (a runtime serves one invocation at a time).
type Client struct {
	addr string
	// Logger receives answers the API refused that the loop can carry on after. May be nil.
	Logger *slog.Logger

	conn    net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	payload []byte // reused for event bodies; handlers may not keep it past their return
	scratch []byte
}

// maxRetainedPayload bounds the event buffer kept between invocations, so one big event
// does not pin megabytes in an idle sandbox.
const maxRetainedPayload = 64 << 10

// APIError is a non-success answer of the Runtime API.
type APIError struct {
	Op           string // "next", "response", "error", "init error"
	StatusCode   int
	ErrorType    string
	ErrorMessage string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("runtime api %s: status %d %s: %s", e.Op, e.StatusCode, e.ErrorType, e.ErrorMessage)
}

// NewClient returns a client of the Runtime API at runtimeAPI (host:port, the value of
// AWS_LAMBDA_RUNTIME_API). It connects on first use.
func NewClient(runtimeAPI string) *Client {
	return &Client{addr: runtimeAPI}
}

// Close drops the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

type invocationKey struct{}

// InvocationFromContext returns the invocation a handler's context belongs to.
func InvocationFromContext(ctx context.Context) (Invocation, bool) {
	inv, ok := ctx.Value(invocationKey{}).(*Invocation)
	if !ok {
		return Invocation{}, false
	}
	return *inv, true
}

// Next long-polls for the next invocation. Its Payload is valid until the next call to Next.
func (c *Client) Next(ctx context.Context) (Invocation, error) {
	resp, err := c.roundTrip(ctx, "GET", APIVersionPath+"/invocation/next", "", "", nil)
	if err != nil {
		return Invocation{}, fmt.Errorf("get next invocation: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Invocation{}, c.apiError("next", resp)
	}
	body, err := c.readPayload(resp)
	if err != nil {
		return Invocation{}, fmt.Errorf("read next invocation: %w", err)
	}
	h := resp.Header
	inv := Invocation{
		RequestID:       h.Get(HeaderRequestID),
		Payload:         body,
		FunctionARN:     h.Get(HeaderInvokedFunctionARN),
		TraceID:         h.Get(HeaderTraceID),
		ClientContext:   h.Get(HeaderClientContext),
		CognitoIdentity: h.Get(HeaderCognitoIdentity),
	}
	if ms, err := strconv.ParseInt(h.Get(HeaderDeadlineMs), 10, 64); err == nil {
		inv.Deadline = time.UnixMilli(ms)
	}
	if inv.RequestID == "" {
		return Invocation{}, fmt.Errorf("next invocation has no %s header: is %s a Lambda runtime API?", HeaderRequestID, c.addr)
	}
	return inv, nil
}

// Respond posts a handler's result for requestID.
func (c *Client) Respond(ctx context.Context, requestID string, payload []byte) error {
	return c.post(ctx, "response", APIVersionPath+"/invocation/"+requestID+"/response", "", payload)
}

// RespondError posts a function error for requestID.
func (c *Client) RespondError(ctx context.Context, requestID string, doc ErrorDocument) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode error document: %w", err)
	}
	return c.post(ctx, "error", APIVersionPath+"/invocation/"+requestID+"/error", doc.ErrorType, body)
}

// InitError posts an initialisation failure; the runtime should exit after it.
func (c *Client) InitError(ctx context.Context, doc ErrorDocument) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode error document: %w", err)
	}
	return c.post(ctx, "init error", APIVersionPath+"/init/error", doc.ErrorType, body)
}

// HandlerFunc handles one event: the payload in, the response (or an error) out. An error
// with an ErrorType() string method names the Lambda errorType.
type HandlerFunc = func(ctx context.Context, payload []byte) ([]byte, error)

// Serve runs the runtime loop: GET next, run h under the invocation's deadline, post the
// response or the error; until ctx ends or the API fails (a 4xx for one answer, such as an
// oversize response, is logged and the loop carries on).
func (c *Client) Serve(ctx context.Context, h HandlerFunc) error {
	for {
		inv, err := c.Next(ctx)
		if err != nil {
			return err
		}
		out, herr := c.run(ctx, &inv, h)
		if herr != nil {
			err = c.RespondError(ctx, inv.RequestID, ErrorDocumentOf(herr))
		} else {
			err = c.Respond(ctx, inv.RequestID, out)
		}
		if apiErr, ok := errors.AsType[*APIError](err); ok && apiErr.StatusCode < 500 {
			c.logger().Warn("runtime api refused an answer", "request_id", inv.RequestID, "err", err)
			continue
		}
		if err != nil {
			return err
		}
	}
}

// run calls h with the invocation's deadline, turning a panic into an error.
func (c *Client) run(ctx context.Context, inv *Invocation, h HandlerFunc) (out []byte, err error) {
	// Lambda's runtimes (aws-lambda-go among them) expose the trace header to the handler
	// and the SDKs as _X_AMZN_TRACE_ID, set for each invocation; one runs at a time.
	_ = os.Setenv("_X_AMZN_TRACE_ID", inv.TraceID)
	ictx := context.WithValue(ctx, invocationKey{}, inv)
	if !inv.Deadline.IsZero() {
		var cancel context.CancelFunc
		ictx, cancel = context.WithDeadline(ictx, inv.Deadline)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			err = &handlerPanic{value: v}
		}
	}()
	return h(ictx, inv.Payload)
}

type handlerPanic struct{ value any }

func (p *handlerPanic) Error() string     { return fmt.Sprintf("handler panicked: %v", p.value) }
func (p *handlerPanic) ErrorType() string { return ErrorTypeHandlerPanic }

// ErrorDocumentOf turns a handler error into Lambda's error document. The errorType comes
// from an ErrorType() string method anywhere in the error's chain, else it is "Error".
func ErrorDocumentOf(err error) ErrorDocument {
	errorType := "Error"
	if te, ok := errors.AsType[typedError](err); ok {
		errorType = te.ErrorType()
	}
	return ErrorDocument{ErrorMessage: err.Error(), ErrorType: errorType}
}

// typedError is an error that names its Lambda errorType.
type typedError interface {
	error
	ErrorType() string
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) post(ctx context.Context, op, path, errorType string, body []byte) error {
	resp, err := c.roundTrip(ctx, "POST", path, "application/json", errorType, body)
	if err != nil {
		return fmt.Errorf("post %s: %w", op, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return c.apiError(op, resp)
	}
	if err := c.discard(resp); err != nil {
		return fmt.Errorf("read %s answer: %w", op, err)
	}
	return nil
}

func (c *Client) apiError(op string, resp *http.Response) error {
	e := &APIError{Op: op, StatusCode: resp.StatusCode}
	var doc ErrorDocument
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil && json.Unmarshal(b, &doc) == nil {
		e.ErrorType, e.ErrorMessage = doc.ErrorType, doc.ErrorMessage
	} else {
		e.ErrorMessage = string(b)
	}
	if c.discard(resp) != nil {
		_ = c.Close()
	}
	return e
}

func (c *Client) discard(resp *http.Response) error {
	_, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.Close {
		_ = c.Close()
	}
	return err
}

func (c *Client) readPayload(resp *http.Response) ([]byte, error) {
	if cap(c.payload) > maxRetainedPayload {
		c.payload = nil
	}
	var err error
	if n := resp.ContentLength; n >= 0 {
		if int64(cap(c.payload)) < n {
			c.payload = make([]byte, n)
		}
		c.payload = c.payload[:n]
		_, err = io.ReadFull(resp.Body, c.payload)
	} else {
		c.payload, err = io.ReadAll(resp.Body)
	}
	if err != nil || resp.Close {
		_ = c.Close()
	}
	return c.payload, err
}

// roundTrip writes one request and reads the answer's head. A request on a reused
// connection that the server had closed is retried once on a new one.
func (c *Client) roundTrip(ctx context.Context, method, path, contentType, errorType string, body []byte) (*http.Response, error) {
	reused := c.conn != nil
	resp, err := c.tryRoundTrip(ctx, method, path, contentType, errorType, body)
	if err != nil && reused && ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)) {
		resp, err = c.tryRoundTrip(ctx, method, path, contentType, errorType, body)
	}
	return resp, err
}

func (c *Client) tryRoundTrip(ctx context.Context, method, path, contentType, errorType string, body []byte) (*http.Response, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return nil, fmt.Errorf("connect to the runtime api at %s: %w", c.addr, err)
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 4096)
			c.bw = bufio.NewWriterSize(conn, 4096)
		} else {
			c.br.Reset(conn)
			c.bw.Reset(conn)
		}
	}
	conn := c.conn
	// A cancelled ctx unblocks the long poll by expiring the connection's deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() && ctx.Err() != nil {
			// The deadline fired: the connection is spoiled for later calls.
			_ = c.Close()
		}
	}()

	c.writeHead(method, path, contentType, errorType, len(body), body != nil)
	_, _ = c.bw.Write(body)
	if err := c.bw.Flush(); err != nil {
		_ = c.Close()
		return nil, c.ctxErr(ctx, err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		_ = c.Close()
		return nil, c.ctxErr(ctx, err)
	}
	return resp, nil
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (c *Client) writeHead(method, path, contentType, errorType string, bodyLen int, hasBody bool) {
	w := c.bw
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(c.addr)
	w.WriteString("\r\nUser-Agent: faaslab-runtime\r\n")
	if contentType != "" {
		w.WriteString("Content-Type: ")
		w.WriteString(contentType)
		w.WriteString("\r\n")
	}
	if errorType != "" && headerSafe(errorType) {
		w.WriteString(HeaderFunctionErrorType)
		w.WriteString(": ")
		w.WriteString(errorType)
		w.WriteString("\r\n")
	}
	if hasBody || method == "POST" {
		w.WriteString("Content-Length: ")
		c.scratch = strconv.AppendInt(c.scratch[:0], int64(bodyLen), 10)
		w.Write(c.scratch)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

// headerSafe reports whether v can be sent as a header value as is (a handler's errorType
// is free text).
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b == 0x7f {
			return false
		}
	}
	return true
}
