package wire

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawServer answers one request per connection with resp, byte for byte, and hands what it
// read to got.
func rawServer(t *testing.T, resp string, got chan<- []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var rec bytes.Buffer
			br := bufio.NewReader(io.TeeReader(c, &rec))
			req, err := http.ReadRequest(br)
			if err == nil {
				io.Copy(io.Discard, req.Body)
			}
			c.Write([]byte(resp))
			c.Close()
			got <- rec.Bytes()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestMeterCountsTheWire(t *testing.T) {
	// A chunked answer: the body on the wire includes the chunk framing.
	respHeader := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pad: " + strings.Repeat("p", 300) + "\r\n\r\n"
	respBody := "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	got := make(chan []byte, 1)
	url := rawServer(t, respHeader+respBody, got)

	var m Meter
	body := strings.Repeat("x", 70_000) // more than one write
	resp, err := NewMeteredClient(&m, 10*time.Second).Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello world" {
		t.Fatalf("body %q", b)
	}
	wireReq := <-got
	hdrEnd := bytes.Index(wireReq, []byte("\r\n\r\n")) + 4
	sent, recv := m.Sent(), m.Received()
	if sent.HeaderBytes != int64(hdrEnd) || sent.BodyBytes != int64(len(wireReq)-hdrEnd) || sent.BodyBytes != 70_000 {
		t.Errorf("sent %+v, the server read header %d body %d", sent, hdrEnd, len(wireReq)-hdrEnd)
	}
	if recv.HeaderBytes != int64(len(respHeader)) || recv.BodyBytes != int64(len(respBody)) {
		t.Errorf("received %+v, the server wrote header %d body %d", recv, len(respHeader), len(respBody))
	}
	if m.Conns() != 1 || sent.FirstByteNs == 0 || sent.LastByteNs < sent.FirstByteNs || recv.FirstByteNs < sent.FirstByteNs {
		t.Errorf("conns %d, times sent %+v received %+v", m.Conns(), sent, recv)
	}
	if !bytes.Contains(wireReq, []byte("Connection: close")) || !bytes.Contains(wireReq, []byte("Content-Length: "+strconv.Itoa(len(body)))) {
		t.Errorf("request header: %q", wireReq[:hdrEnd])
	}
}

func TestHrTime(t *testing.T) {
	if s, ns := HrTime(26250589 * time.Nanosecond); s != 0 || ns != 26250589 {
		t.Fatalf("%d %d", s, ns)
	}
	if s, ns := HrTime(2*time.Second + 5); s != 2 || ns != 5 {
		t.Fatalf("%d %d", s, ns)
	}
}
