package wan

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// chunk is the largest piece paced at once (and the token bucket's depth): small enough
// that a transfer's rate is the configured one from its first bytes.
const chunk = 32 << 10

// Directions of a connection's last transfer.
const (
	dirNone int32 = iota
	dirRead
	dirWrite
)

// Listener wraps ln so that each accepted connection behaves as if it crossed the WAN of
// m. It models a request/response exchange, not packets: whenever a connection changes
// direction (the first bytes it reads after writing, or writes after reading, and the
// very first of each), the bytes wait RTT/2 — so a request and its answer pay one RTT,
// a TLS handshake one RTT per flight — and each direction is paced by its own token bucket
// at m.BitsPerSec. What it does not model: the TCP handshake's RTT, slow start, loss.
func Listener(ln net.Listener, m Model) net.Listener {
	if !m.Enabled() {
		return ln
	}
	return &listener{Listener: ln, m: m}
}

type listener struct {
	net.Listener
	m Model
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewConn(c, l.m), nil
}

// Conn is one connection across the WAN (see Listener).
type Conn struct {
	net.Conn
	half        time.Duration
	last        atomic.Int32
	read, write *rate.Limiter // nil = no cap
}

// NewConn wraps c.
func NewConn(c net.Conn, m Model) *Conn {
	w := &Conn{Conn: c, half: m.RTT / 2}
	if m.BitsPerSec > 0 {
		w.read, w.write = bucket(m.BitsPerSec), bucket(m.BitsPerSec)
	}
	return w
}

// bucket paces bytes at bits/8 per second, starting empty so that even a connection's
// first chunk takes its time on the wire.
func bucket(bits int64) *rate.Limiter {
	l := rate.NewLimiter(rate.Limit(float64(bits)/8), chunk)
	l.AllowN(time.Now(), chunk)
	return l
}

// turn waits RTT/2 when the connection changes direction.
func (c *Conn) turn(dir int32) {
	if c.last.Swap(dir) != dir && c.half > 0 {
		time.Sleep(c.half)
	}
}

// Read delivers the peer's bytes RTT/2 after they arrive when they start a turn, and no
// faster than the rate.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) > chunk {
		p = p[:chunk]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.turn(dirRead)
		if c.read != nil {
			c.read.WaitN(context.Background(), n)
		}
	}
	return n, err
}

// Write sends p RTT/2 late when it starts a turn, paced at the rate.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return c.Conn.Write(p)
	}
	c.turn(dirWrite)
	done := 0
	for done < len(p) {
		n := min(chunk, len(p)-done)
		if c.write != nil {
			c.write.WaitN(context.Background(), n)
		}
		w, err := c.Conn.Write(p[done : done+n])
		done += w
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// Bounds of Proxy's back-off after a failed accept: net/http's Server's.
const (
	acceptMinDelay = 5 * time.Millisecond
	acceptMaxDelay = time.Second
)

// Proxy accepts connections on ln (wrapped by Listener for m) and joins each to a fresh
// connection from dial, byte for byte (TLS passes through untouched), until ctx ends.
// The store's server runs behind it on a socket only Proxy reaches.
//
// An accept error other than a closed listener (EMFILE, ENFILE, ECONNABORTED, …) does not
// end it: it backs off (like net/http's Server) and accepts again, since returning would
// leave ln open with nobody accepting, and its clients would connect and hang. It returns
// nil when ctx ends, or an error wrapping net.ErrClosed if ln is closed elsewhere; ln is closed
// when it returns.
func Proxy(ctx context.Context, ln net.Listener, m Model, dial func() (net.Conn, error)) error {
	wl := Listener(ln, m)
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var delay time.Duration
	for {
		c, err := wl.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			delay = min(max(2*delay, acceptMinDelay), acceptMaxDelay)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			join(ctx, c, dial)
		}()
	}
}

// join copies both ways until either side ends, then closes both.
func join(ctx context.Context, c net.Conn, dial func() (net.Conn, error)) {
	defer c.Close()
	b, err := dial()
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.CopyBuffer(dst, src, make([]byte, chunk))
		done <- struct{}{}
	}
	go cp(b, c)
	go cp(c, b)
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Closing both (deferred) ends the other copy.
}
