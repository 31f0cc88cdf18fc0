package urls

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Wire is one URL exchange as the listener counted it on its socket: the whole request
// and response in bytes, and the bodies as the handler read and wrote them. Header bytes
// are the rest. Counted only when the connection carried exactly one request (clients
// that reuse connections get no Wire), which is what the faasbench clients do.
type Wire struct {
	RequestBytes      int64 `json:"request_bytes"`
	RequestBodyBytes  int64 `json:"request_body_bytes"`
	ResponseBytes     int64 `json:"response_bytes"`
	ResponseBodyBytes int64 `json:"response_body_bytes"`
}

// RequestHeaderBytes and ResponseHeaderBytes are what is not body.
func (w Wire) RequestHeaderBytes() int64  { return w.RequestBytes - w.RequestBodyBytes }
func (w Wire) ResponseHeaderBytes() int64 { return w.ResponseBytes - w.ResponseBodyBytes }

// countConn counts one accepted connection's bytes.
type countConn struct {
	net.Conn
	in, out           atomic.Int64
	requests          atomic.Int32
	requestID         atomic.Pointer[string]
	reqBody, respBody atomic.Int64
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

type countListener struct{ net.Listener }

func (l countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countConn{Conn: c}, nil
}

// CountingListener counts every accepted connection's bytes for NewServer's Wire records.
func CountingListener(ln net.Listener) net.Listener { return countListener{ln} }

type connKey struct{}

// NewServer is the URL endpoint's http.Server: it serves MakeEndpointHandler(d) and, on
// connections from a CountingListener, files each exchange's Wire into d.Recent when the
// connection closes.
func NewServer(d EndpointDeps) *http.Server {
	return &http.Server{
		Handler:           MakeEndpointHandler(d),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if cc, ok := c.(*countConn); ok {
				return context.WithValue(ctx, connKey{}, cc)
			}
			return ctx
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			cc, ok := c.(*countConn)
			if !ok || s != http.StateClosed || d.Recent == nil {
				return
			}
			id := cc.requestID.Load()
			if id == nil || cc.requests.Load() != 1 {
				return
			}
			d.Recent.wire(*id, Wire{RequestBytes: cc.in.Load(), RequestBodyBytes: cc.reqBody.Load(),
				ResponseBytes: cc.out.Load(), ResponseBodyBytes: cc.respBody.Load()})
		},
	}
}

// noteRequest tells r's connection counter which request it carries; it returns a writer
// that counts the response body.
func noteRequest(w http.ResponseWriter, r *http.Request, requestID string) (http.ResponseWriter, func(reqBody int64)) {
	cc, ok := r.Context().Value(connKey{}).(*countConn)
	if !ok {
		return w, func(int64) {}
	}
	cc.requests.Add(1)
	cc.requestID.Store(&requestID)
	return &bodyCounter{ResponseWriter: w, n: &cc.respBody}, func(n int64) { cc.reqBody.Store(n) }
}

type bodyCounter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (b *bodyCounter) Write(p []byte) (int, error) {
	n, err := b.ResponseWriter.Write(p)
	b.n.Add(int64(n))
	return n, err
}
