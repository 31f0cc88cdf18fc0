package shape

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/faaslab/faaslab/netshape/ns"
)

// inNetNS runs fn in the network namespace at path ("" = stay in the current one) through
// ns.Do: sockets fn creates and processes it starts live in that namespace.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	return ns.Do(path, fn)
}

// handleAt opens a netlink handle in the netns at path ("" = current netns).
// netlink.NewHandleAt does its own setns dance on a locked thread.
func handleAt(path string) (*netlink.Handle, error) {
	if path == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("open netlink handle: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("open netlink handle in %s: %w", path, err)
	}
	return h, nil
}
