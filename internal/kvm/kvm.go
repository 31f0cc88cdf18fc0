// Package kvm tells whether /dev/kvm can actually run a guest.
//
// A /dev/kvm that opens is not enough: under nested virtualization the device can exist
// while every guest stops on its first emulated instruction ("KVM internal error.
// Suberror: 1 … emulation failure" in qemu, which then pauses the guest forever). Probe
// creates a VM, runs a few real-mode instructions (two port writes and hlt, the classic
// minimal KVM guest) and checks that the vCPU exits where the code says it must.
package kvm

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/faaslab/faaslab/internal/probe"
)

// DefaultDevice is the KVM character device.
const DefaultDevice = "/dev/kvm"

// Sentinel errors; Probe wraps them with details.
var (
	ErrNoDevice = errors.New("kvm: device not available")
	ErrBroken   = errors.New("kvm: device present but cannot run a guest")
)

// ioctl numbers from <linux/kvm.h> (type 0xAE).
const (
	kvmGetAPIVersion       = 0xAE00
	kvmCreateVM            = 0xAE01
	kvmGetVCPUMmapSize     = 0xAE04
	kvmCreateVCPU          = 0xAE41
	kvmSetUserMemoryRegion = 0x4020AE46 // _IOW(0xAE, 0x46, struct kvm_userspace_memory_region)
	kvmRun                 = 0xAE80
	kvmSetRegs             = 0x4090AE82 // _IOW(0xAE, 0x82, struct kvm_regs)
	kvmGetSregs            = 0x8138AE83 // _IOR(0xAE, 0x83, struct kvm_sregs)
	kvmSetSregs            = 0x4138AE84 // _IOW(0xAE, 0x84, struct kvm_sregs)

	kvmAPIVersion = 12

	exitIO            = 2
	exitHLT           = 5
	exitInternalError = 17
)

// exitNames names the kvm_run.exit_reason values a failed probe reports.
var exitNames = map[uint32]string{0: "UNKNOWN", 1: "EXCEPTION", 2: "IO", 5: "HLT", 8: "SHUTDOWN",
	9: "FAIL_ENTRY", 17: "INTERNAL_ERROR"}

// guestCode at guestAddr, 16-bit real mode:
//
//	mov dx, 0x3f8 ; out dx, al ; out dx, al ; hlt
var guestCode = []byte{0xba, 0xf8, 0x03, 0xee, 0xee, 0xf4}

const guestAddr = 0x1000

// kvmRegs is struct kvm_regs (18 × u64).
type kvmRegs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

// userMemoryRegion is struct kvm_userspace_memory_region.
type userMemoryRegion struct {
	Slot, Flags                         uint32
	GuestPhysAddr, MemorySize, UserAddr uint64
}

// Probe runs the minimal guest on dev (DefaultDevice when empty). It returns nil when the
// guest ran to its hlt, an error wrapping ErrNoDevice when dev cannot be opened, and one
// wrapping ErrBroken (with the vCPU's exit reason) when the guest could not run.
func Probe(dev string) error {
	if dev == "" {
		dev = DefaultDevice
	}
	kfd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%w: open %s: %v", ErrNoDevice, dev, err)
	}
	defer unix.Close(kfd)
	if v, err := ioctl(kfd, kvmGetAPIVersion, 0); err != nil || v != kvmAPIVersion {
		return fmt.Errorf("%w: %s: KVM_GET_API_VERSION = %d, %v", ErrNoDevice, dev, v, err)
	}
	return runGuest(kfd)
}

func runGuest(kfd int) error {
	vmfd, err := ioctl(kfd, kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("%w: KVM_CREATE_VM: %v", ErrBroken, err)
	}
	defer unix.Close(int(vmfd))
	mem, err := unix.Mmap(-1, 0, 0x2000, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("kvm: guest memory: %w", err)
	}
	defer unix.Munmap(mem)
	copy(mem[guestAddr:], guestCode)
	region := userMemoryRegion{MemorySize: uint64(len(mem)), UserAddr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
	if _, err := ioctl(int(vmfd), kvmSetUserMemoryRegion, uintptr(unsafe.Pointer(&region))); err != nil {
		return fmt.Errorf("%w: KVM_SET_USER_MEMORY_REGION: %v", ErrBroken, err)
	}
	cpufd, err := ioctl(int(vmfd), kvmCreateVCPU, 0)
	if err != nil {
		return fmt.Errorf("%w: KVM_CREATE_VCPU: %v", ErrBroken, err)
	}
	defer unix.Close(int(cpufd))
	size, err := ioctl(kfd, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return fmt.Errorf("%w: KVM_GET_VCPU_MMAP_SIZE: %v", ErrBroken, err)
	}
	run, err := unix.Mmap(int(cpufd), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("%w: mmap kvm_run: %v", ErrBroken, err)
	}
	defer unix.Munmap(run)
	if err := realMode(int(cpufd)); err != nil {
		return err
	}
	return step(int(cpufd), run)
}

// realMode points the vCPU at guestCode: CS base and selector 0, RIP = guestAddr.
func realMode(cpufd int) error {
	var sregs [312]byte // struct kvm_sregs; CS (struct kvm_segment) comes first: base u64, ..., selector u16 at 12
	if _, err := ioctl(cpufd, kvmGetSregs, uintptr(unsafe.Pointer(&sregs[0]))); err != nil {
		return fmt.Errorf("%w: KVM_GET_SREGS: %v", ErrBroken, err)
	}
	clear(sregs[0:8])   // cs.base
	clear(sregs[12:14]) // cs.selector
	if _, err := ioctl(cpufd, kvmSetSregs, uintptr(unsafe.Pointer(&sregs[0]))); err != nil {
		return fmt.Errorf("%w: KVM_SET_SREGS: %v", ErrBroken, err)
	}
	regs := kvmRegs{RIP: guestAddr, RAX: 'K', RFLAGS: 0x2}
	if _, err := ioctl(cpufd, kvmSetRegs, uintptr(unsafe.Pointer(&regs))); err != nil {
		return fmt.Errorf("%w: KVM_SET_REGS: %v", ErrBroken, err)
	}
	return nil
}

// step runs the vCPU until hlt, expecting exactly the two port writes first.
func step(cpufd int, run []byte) error {
	want := []uint32{exitIO, exitIO, exitHLT}
	for i, w := range want {
		if _, err := ioctl(cpufd, kvmRun, 0); err != nil {
			return fmt.Errorf("%w: KVM_RUN: %v", ErrBroken, err)
		}
		got := *(*uint32)(unsafe.Pointer(&run[8])) // kvm_run.exit_reason
		if got != w {
			detail := ""
			if got == exitInternalError {
				detail = fmt.Sprintf(" (suberror %d: emulation failure when 1)", *(*uint32)(unsafe.Pointer(&run[32])))
			}
			return fmt.Errorf("%w: vCPU exit %d is %s%s, want %s", ErrBroken, i+1, exitName(got), detail, exitName(w))
		}
	}
	return nil
}

func exitName(r uint32) string {
	if n, ok := exitNames[r]; ok {
		return "KVM_EXIT_" + n
	}
	return fmt.Sprintf("exit reason %d", r)
}

func ioctl(fd int, req, arg uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// Check is the doctor line: whether the device can run a guest.
func Check(dev string) probe.Check {
	ok, detail := Status(dev)
	return probe.Check{Name: "kvm", OK: ok, Detail: detail}
}

// Status summarises Probe for `faaslab doctor`: whether KVM can run a guest and why.
func Status(dev string) (ok bool, detail string) {
	err := Probe(dev)
	switch {
	case err == nil:
		return true, "works (a real-mode test guest ran to hlt): make test-vm boots under KVM"
	case errors.Is(err, ErrNoDevice):
		return false, err.Error() + ": make test-vm uses TCG (slower, still correct)"
	default:
		return false, err.Error() + ": make test-vm falls back to TCG"
	}
}
