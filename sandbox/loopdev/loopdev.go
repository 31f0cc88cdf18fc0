// Package loopdev attaches image files to loop devices. It imports nothing heavy: the
// native sandbox init (nsinit) uses it on every cold start with a /tmp image, the docker
// backend from the daemon.
package loopdev

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Attach binds a free loop device to the image file (losetup --direct-io=on with
// autoclear): direct I/O keeps the image's pages out of the page cache, and autoclear
// frees the device once it is no longer open or mounted. The device is returned open:
// close it once it is mounted.
func Attach(image string) (*os.File, error) {
	f, err := os.OpenFile(image, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open /tmp image: %w", err)
	}
	defer f.Close() // the loop device holds its own reference
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("loop devices: %w", err)
	}
	defer ctl.Close()
	cfg := unix.LoopConfig{Fd: uint32(f.Fd()), Info: unix.LoopInfo64{Flags: unix.LO_FLAGS_AUTOCLEAR | unix.LO_FLAGS_DIRECT_IO}}
	for range 32 { // another sandbox may take the free device first
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("find a free loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		l, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", dev, err)
		}
		err = unix.IoctlLoopConfigure(int(l.Fd()), &cfg)
		if err == unix.EINVAL { // a backing file system without direct I/O (tmpfs before 6.6)
			cfg.Info.Flags &^= unix.LO_FLAGS_DIRECT_IO
			err = unix.IoctlLoopConfigure(int(l.Fd()), &cfg)
		}
		if err == unix.EBUSY {
			l.Close()
			continue
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("attach %s to %s: %w", image, dev, err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("attach %s: every free loop device was taken first", image)
}
