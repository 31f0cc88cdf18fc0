package nsinit

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// The sandbox's seccomp filter is an allow list modelled on Docker's default profile
// (moby profiles/seccomp/default.json) for a process without capabilities: every syscall
// not listed fails with EPERM. docs/security.md lists what differs from Docker's and why.

// allowed are the syscalls Docker's profile allows unconditionally, minus ptrace and its
// relatives (see docs/security.md), plus socket (Docker filters only AF_VSOCK). The most
// frequent come first: the filter is a linear list. Names missing on this architecture
// are skipped (e.g. the *32 and *_time64 variants on x86_64).
var allowed = []string{
	"read", "write", "futex", "epoll_pwait", "epoll_wait", "nanosleep", "clock_gettime", "mmap",
	"munmap", "madvise", "rt_sigreturn", "rt_sigprocmask", "sched_yield", "getpid", "gettid", "tgkill",
	"recvfrom", "sendto", "recvmsg", "sendmsg", "readv", "writev", "pread64", "pwrite64", "close",
	"openat", "newfstatat", "fstat", "lseek", "getrandom", "epoll_ctl", "fcntl", "socket", "connect",
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
	"clock_getres_time64", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
	"close_range", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
	"epoll_ctl_old", "epoll_pwait2", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
	"exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
	"fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
	"fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
	"fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
	"futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu",
	"getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
	"getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp",
	"getppid", "getpriority", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
	"get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
	"gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
	"inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
	"ipc", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
	"lremovexattr", "lsetxattr", "lstat", "lstat64", "map_shadow_stack", "membarrier",
	"memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
	"mlock2", "mlockall", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
	"mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
	"name_to_handle_at", "_newselect", "open", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
	"pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64",
	"prctl", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64",
	"pwritev", "pwritev2", "readahead", "readlink", "readlinkat", "recv", "recvmmsg",
	"recvmmsg_time64", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
	"restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigqueueinfo",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
	"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
	"sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
	"sched_setscheduler", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "setfsgid", "setfsgid32",
	"setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
	"setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
	"setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
	"set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
	"socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
	"symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "time", "timer_create",
	"timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
	"timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
	"unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
	"wait4", "waitid", "waitpid", "arch_prctl", "modify_ldt",
}

// namespaceFlags are the CLONE_NEW* bits of clone's flags argument (Docker's mask
// 0x7E020000): clone may not create namespaces, user namespaces above all.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// errnoENOSYS: clone3 "does not exist", so that libc falls back to clone, whose flags
// the filter can read (clone3 passes them in memory, out of a filter's reach). Docker
// does the same.
const errnoENOSYS = seccomp.Action(uint32(seccomp.ActionErrno) | uint32(unix.ENOSYS))

// Policy is the sandbox's seccomp policy for the running architecture.
func Policy() (seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, fmt.Errorf("seccomp: %w", err)
	}
	names := make([]string, 0, len(allowed))
	for _, n := range allowed {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	// personality: only the values Docker allows (the default, UNAME26, ADDR_NO_RANDOMIZE
	// and the query), so a function cannot turn on READ_IMPLIES_EXEC and the like.
	var conditional []seccomp.NameWithConditions
	for _, v := range []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff} {
		conditional = append(conditional, seccomp.NameWithConditions{Name: "personality",
			Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.Equal, Value: v}}})
	}
	conditional = append(conditional, seccomp.NameWithConditions{Name: "clone",
		Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.BitsNotSet, Value: namespaceFlags}}})
	return seccomp.Policy{
		DefaultAction: seccomp.ActionErrno, // EPERM
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionAllow, Names: names, NamesWithCondtions: conditional},
			{Action: errnoENOSYS, Names: []string{"clone3"}},
		},
	}, nil
}

// installSeccomp loads the policy on every thread (TSYNC: the in-process continuation
// runs Go on many threads). no_new_privs is already set by dropPrivileges.
func installSeccomp() error {
	p, err := Policy()
	if err != nil {
		return err
	}
	if err := seccomp.LoadFilter(seccomp.Filter{Flag: seccomp.FilterFlagTSync, Policy: p}); err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	return nil
}
