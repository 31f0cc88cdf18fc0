// Package kvm tells whether /dev/kvm can actually run a guest.
//
// A /dev/kvm that opens is not enough: under nested virtualization the device can exist
// while every guest stops on its first emulated instruction ("KVM internal error.
// Suberror: 1 … emulation failure" in qemu, which then pauses the guest forever). Probe
// creates a VM, runs a few real-mode instructions (two port writes and hlt, the classic
// minimal KVM guest), then the same in 64-bit long mode with paging, and checks that the
// vCPU exits where the code says it must, within a bounded time.
package kvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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

// Guest programs: two writes to port 0x3f8 and hlt, in 16-bit real mode (where the CPU
// starts; under nested virtualization KVM may have to emulate it) and in 64-bit long
// mode with paging (where a Linux kernel runs after its setup code).
var (
	realModeCode = []byte{0xba, 0xf8, 0x03, 0xee, 0xee, 0xf4}             // mov dx,0x3f8; out dx,al ×2; hlt
	longModeCode = []byte{0xba, 0xf8, 0x03, 0x00, 0x00, 0xee, 0xee, 0xf4} // mov edx,0x3f8; out dx,al ×2; hlt
)

// Guest physical layout: page tables at 0x1000-0x3fff (PML4, PDPT, PD with one 2 MB
// identity page), code at guestAddr, 2 MB of memory.
const (
	guestAddr = 0x4000
	guestMem  = 2 << 20
	pml4Addr  = 0x1000
)

// runTimeout bounds each KVM_RUN: a guest that neither exits nor halts is broken too.
const runTimeout = 2 * time.Second

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

// Probe runs the minimal guests on dev (DefaultDevice when empty), first in real mode,
// then in long mode. It returns nil when both ran to their hlt, an error wrapping
// ErrNoDevice when dev cannot be opened, and one wrapping ErrBroken (naming the mode and
// the vCPU's exit reason, or a hang) when a guest could not run.
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
	if err := runGuest(kfd, false); err != nil {
		return fmt.Errorf("real mode: %w", err)
	}
	if err := runGuest(kfd, true); err != nil {
		return fmt.Errorf("long mode: %w", err)
	}
	return nil
}

func runGuest(kfd int, long bool) error {
	vmfd, err := ioctl(kfd, kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("%w: KVM_CREATE_VM: %v", ErrBroken, err)
	}
	defer unix.Close(int(vmfd))
	mem, err := unix.Mmap(-1, 0, guestMem, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("kvm: guest memory: %w", err)
	}
	defer unix.Munmap(mem)
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
	code := realModeCode
	if long {
		code = longModeCode
		identityMap(mem)
	}
	copy(mem[guestAddr:], code)
	if err := setMode(int(cpufd), long); err != nil {
		return err
	}
	return step(int(cpufd), run)
}

// identityMap writes 4-level page tables mapping the first 2 MB 1:1 (one large page).
func identityMap(mem []byte) {
	const present, writable, large = 1, 2, 0x80
	le := binary.LittleEndian
	le.PutUint64(mem[pml4Addr:], 0x2000|present|writable) // PML4[0] -> PDPT
	le.PutUint64(mem[0x2000:], 0x3000|present|writable)   // PDPT[0] -> PD
	le.PutUint64(mem[0x3000:], 0|present|writable|large)  // PD[0]: 2 MB at 0
}

// struct kvm_sregs offsets: 8 struct kvm_segment of 24 bytes (cs ds es fs gs ss tr ldt),
// 2 struct kvm_dtable of 16 (gdt idt), then cr0 cr2 cr3 cr4 cr8 efer (u64 each).
const (
	segSize   = 24
	offCR0    = 8*segSize + 2*16
	offCR3    = offCR0 + 16
	offCR4    = offCR0 + 24
	offEFER   = offCR0 + 40
	sregsSize = 312
)

// setMode points the vCPU at the code: real mode with CS base 0, or long mode with
// paging (CR0.PE|PG, CR4.PAE, EFER.LME|LMA) and flat 64-bit segments.
func setMode(cpufd int, long bool) error {
	var sregs [sregsSize]byte
	if _, err := ioctl(cpufd, kvmGetSregs, uintptr(unsafe.Pointer(&sregs[0]))); err != nil {
		return fmt.Errorf("%w: KVM_GET_SREGS: %v", ErrBroken, err)
	}
	le := binary.LittleEndian
	if !long {
		clear(sregs[0:8])   // cs.base
		clear(sregs[12:14]) // cs.selector
	} else {
		// kvm_segment: base u64, limit u32, selector u16, type, present, dpl, db, s, l, g, avl, unusable, pad.
		seg := func(i int, selector uint16, typ, db, l byte) {
			b := sregs[i*segSize : (i+1)*segSize]
			clear(b)
			le.PutUint32(b[8:], 0xffffffff)
			le.PutUint16(b[12:], selector)
			b[14], b[15], b[17], b[18], b[19], b[20] = typ, 1, db, 1, l, 1
		}
		seg(0, 8, 11, 0, 1) // cs: execute/read, accessed, 64-bit
		for i := 1; i <= 5; i++ {
			seg(i, 16, 3, 1, 0) // ds es fs gs ss: read/write, accessed
		}
		le.PutUint64(sregs[offCR3:], pml4Addr)
		le.PutUint64(sregs[offCR4:], 1<<5)        // PAE
		le.PutUint64(sregs[offCR0:], 0x80050033)  // PG AM WP NE ET MP PE
		le.PutUint64(sregs[offEFER:], 1<<8|1<<10) // LME LMA
	}
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
		if err := runBounded(cpufd); err != nil {
			return err
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

// runBounded is KVM_RUN with runTimeout: the ioctl runs on a locked OS thread and, when
// it does not return in time, that thread gets SIGURG (which the Go runtime already
// handles) until KVM_RUN gives up with EINTR.
func runBounded(cpufd int) error {
	type result struct{ err error }
	done := make(chan result, 1)
	tidc := make(chan int, 1)
	go func() {
		runtime.LockOSThread() // the thread exits with the goroutine: it may hold a pending signal
		tidc <- unix.Gettid()
		_, err := ioctl(cpufd, kvmRun, 0)
		done <- result{err}
	}()
	tid := <-tidc
	timer := time.NewTimer(runTimeout)
	defer timer.Stop()
	hung := false
	for {
		select {
		case r := <-done:
			if hung {
				return fmt.Errorf("%w: the vCPU neither exited nor halted within %v", ErrBroken, runTimeout)
			}
			if r.err != nil {
				return fmt.Errorf("%w: KVM_RUN: %v", ErrBroken, r.err)
			}
			return nil
		case <-timer.C:
			hung = true
			_ = unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
			timer.Reset(50 * time.Millisecond)
		}
	}
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
