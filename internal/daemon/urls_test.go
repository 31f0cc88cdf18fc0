package daemon

import (
	"net"
	"testing"
)

// The function-URL listener never keeps the API's port when the kernel hands it out.
func TestSameLoopbackPort(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 38493}
	if !sameLoopbackPort(addr, "127.0.0.1:38493") {
		t.Error("same port: want true")
	}
	if sameLoopbackPort(addr, "127.0.0.1:3001") || sameLoopbackPort(addr, "not-an-address") {
		t.Error("another port or no port: want false")
	}
}
