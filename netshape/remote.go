package netshape

import (
	"context"
	"fmt"
	"net"
	"os/exec"

	"github.com/faaslab/faaslab/netshape/ns"
)

// DoRemote runs fn on a thread inside the remote netns (see Do).
func (h *Host) DoRemote(fn func() error) error {
	return ns.Do(ns.NamedPath(h.cfg.RemoteNetNS), fn)
}

// ListenRemote opens a listener inside the remote netns, so that a remote service (an
// object store, a bulk sink) runs in-process and is reached by the sandboxes at
// RemoteAddr. addr is as for net.Listen, e.g. RemoteAddr():9000 or ":9000".
func (h *Host) ListenRemote(network, addr string) (net.Listener, error) {
	return listenRemote(h, network, addr, net.Listen)
}

// ListenPacketRemote is ListenRemote for packet sockets (udp).
func (h *Host) ListenPacketRemote(network, addr string) (net.PacketConn, error) {
	return listenRemote(h, network, addr, net.ListenPacket)
}

// listenRemote calls listen (net.Listen or net.ListenPacket) inside the remote netns.
func listenRemote[T any](h *Host, network, addr string, listen func(network, addr string) (T, error)) (T, error) {
	var l T
	err := h.DoRemote(func() error {
		var err error
		l, err = listen(network, addr)
		return err
	})
	if err != nil {
		return l, fmt.Errorf("listen on %s %s in remote netns %s: %w", network, addr, h.cfg.RemoteNetNS, err)
	}
	return l, nil
}

// RemoteCommand returns a command that runs name with args inside the remote netns
// (through `nsenter --net=/run/netns/REMOTE`, which execs name in place, so the
// command's PID is the program's). Start, wait and kill it as any exec.Cmd.
func (h *Host) RemoteCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter",
		append([]string{"--net=" + ns.NamedPath(h.cfg.RemoteNetNS), "--", name}, args...)...)
}
