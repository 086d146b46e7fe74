"""The seccomp allow list of a worker: the system calls it needs, and nothing else.

A confined worker computes and talks to its host over one inherited socket. Everything it does
after ``confine.apply`` comes down to the calls below (measured with ``strace -f`` on workers
running the sandbox test suite: reading lazily imported standard-library files, memory, clocks,
signals, the socket, its own limits). Every other call, including ones added to the kernel
after this list was written, fails with EPERM: ``reboot``, module loading, ``kexec``, ``mount``,
``ptrace``, ``syslog``, ``socket``, ``fork``/``clone``/``execve``, ``kill``, ``bpf``, ``unshare``,
``setuid``... A deny list (what this replaced) forgets the calls nobody thought of; an allow
list forgets only what a worker never needed, and that fails safe.

``ioctl`` is allowed for four requests only (is-a-terminal checks, non-blocking and
close-on-exec flags, bytes available): ``TIOCSTI`` and friends stay refused.
"""

from __future__ import annotations

import errno
import platform
import struct

#: The calls a worker makes, by name (documented in docs/security.md).
ALLOWED: tuple[str, ...] = (
    # files (reads of the standard library; Landlock decides which)
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "lseek", "fstat",
    "newfstatat", "stat", "lstat", "statx", "openat", "open", "getdents64", "readlink",
    "readlinkat", "access", "faccessat", "faccessat2", "fcntl", "ioctl", "dup", "dup2", "dup3",
    # memory
    "mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
    # threads' bookkeeping done by libc even in a single thread, and signals
    "futex", "set_robust_list", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
    # waiting on the host socket
    "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
    "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown", "getsockopt", "getsockname", "getpeername",
    # clocks and sleeping
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    # who am I, limits (the per-call CPU limit is re-armed with setrlimit)
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "getgroups", "getrandom", "prlimit64", "getrlimit", "setrlimit", "getrusage",
    "times", "sched_yield", "sched_getaffinity", "uname", "getcwd", "sysinfo",
    # the way out
    "exit", "exit_group", "restart_syscall",
)  # fmt: skip

#: ioctl requests a worker may make: TCGETS (isatty), FIONREAD, FIONBIO, FIOCLEX.
IOCTL_ALLOWED: tuple[int, ...] = (0x5401, 0x541B, 0x5421, 0x5451)

_X86_64 = {
    "read": 0, "write": 1, "readv": 19, "writev": 20, "pread64": 17, "pwrite64": 18, "close": 3,
    "lseek": 8, "fstat": 5, "newfstatat": 262, "stat": 4, "lstat": 6, "statx": 332, "openat": 257,
    "open": 2, "getdents64": 217, "readlink": 89, "readlinkat": 267, "access": 21, "faccessat": 269,
    "faccessat2": 439, "fcntl": 72, "ioctl": 16, "dup": 32, "dup2": 33, "dup3": 292, "mmap": 9,
    "munmap": 11, "mremap": 25, "mprotect": 10, "madvise": 28, "brk": 12, "futex": 202,
    "set_robust_list": 273, "rseq": 334, "rt_sigaction": 13, "rt_sigprocmask": 14,
    "rt_sigreturn": 15, "sigaltstack": 131, "poll": 7, "ppoll": 271, "select": 23, "pselect6": 270,
    "epoll_create1": 291, "epoll_ctl": 233, "epoll_wait": 232, "epoll_pwait": 281, "recvfrom": 45,
    "recvmsg": 47, "sendto": 44, "sendmsg": 46, "shutdown": 48, "getsockopt": 55, "getsockname": 51,
    "getpeername": 52, "clock_gettime": 228, "clock_getres": 229, "clock_nanosleep": 230,
    "nanosleep": 35, "gettimeofday": 96, "time": 201, "getpid": 39, "getppid": 110, "gettid": 186,
    "getuid": 102, "geteuid": 107, "getgid": 104, "getegid": 108, "getresuid": 118,
    "getresgid": 120, "getgroups": 115, "getrandom": 318, "prlimit64": 302, "getrlimit": 97,
    "setrlimit": 160, "getrusage": 98, "times": 100, "sched_yield": 24, "sched_getaffinity": 204,
    "uname": 63, "getcwd": 79, "exit": 60, "exit_group": 231, "restart_syscall": 219, "sysinfo": 99,
}  # fmt: skip
_AARCH64 = {
    "read": 63, "write": 64, "readv": 65, "writev": 66, "pread64": 67, "pwrite64": 68, "close": 57,
    "lseek": 62, "fstat": 80, "newfstatat": 79, "statx": 291, "openat": 56, "getdents64": 61,
    "readlinkat": 78, "faccessat": 48, "faccessat2": 439, "fcntl": 25, "ioctl": 29, "dup": 23,
    "dup3": 24, "mmap": 222, "munmap": 215, "mremap": 216, "mprotect": 226, "madvise": 233,
    "brk": 214, "futex": 98, "set_robust_list": 99, "rseq": 293, "rt_sigaction": 134,
    "rt_sigprocmask": 135, "rt_sigreturn": 139, "sigaltstack": 132, "ppoll": 73, "pselect6": 72,
    "epoll_create1": 20, "epoll_ctl": 21, "epoll_pwait": 22, "recvfrom": 207, "recvmsg": 212,
    "sendto": 206, "sendmsg": 211, "shutdown": 210, "getsockopt": 209, "getsockname": 204,
    "getpeername": 205, "clock_gettime": 113, "clock_getres": 114, "clock_nanosleep": 115,
    "nanosleep": 101, "gettimeofday": 169, "getpid": 172, "getppid": 173, "gettid": 178,
    "getuid": 174, "geteuid": 175, "getgid": 176, "getegid": 177, "getresuid": 148,
    "getresgid": 150, "getgroups": 158, "getrandom": 278, "prlimit64": 261, "getrlimit": 163,
    "setrlimit": 164, "getrusage": 165, "times": 153, "sched_yield": 124, "sched_getaffinity": 123,
    "uname": 160, "getcwd": 17, "exit": 93, "exit_group": 94, "restart_syscall": 128, "sysinfo": 179,
}  # fmt: skip
#: machine -> (AUDIT_ARCH value, {name: number}); names missing on an arch simply do not exist there.
TABLES: dict[str, tuple[int, dict[str, int]]] = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _AARCH64)}

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARG1 = 0, 4, 24  # struct seccomp_data; arg 1's low 32 bits (little endian)


def supported() -> bool:
    return platform.machine() in TABLES


def program(machine: str | None = None) -> list[bytes]:
    """The BPF program (one 8-byte instruction per item) for ``machine``."""
    arch, numbers = TABLES[machine or platform.machine()]
    refuse = _RET_ERRNO | errno.EPERM
    allowed = sorted({numbers[n] for n in ALLOWED if n in numbers and n != "ioctl"})

    def stmt(code: int, k: int) -> bytes:
        return struct.pack("=HBBI", code, 0, 0, k)

    def jump(code: int, k: int, jt: int, jf: int) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    prog = [stmt(_LD_W_ABS, _OFF_ARCH), jump(_JEQ_K, arch, 1, 0), stmt(_RET_K, refuse), stmt(_LD_W_ABS, _OFF_NR)]
    if machine == "x86_64" or (machine is None and platform.machine() == "x86_64"):
        prog += [jump(_JGE_K, 0x40000000, 0, 1), stmt(_RET_K, refuse)]  # x32 ABI: refuse all
    # Layout after the chain: [ioctl test] [refuse] [allow] [ioctl block...]
    n = len(allowed)
    for i, nr in enumerate(allowed):
        # from instruction i of the chain, "allow" is (n - i) + 1 (ioctl test) + 1 (refuse) ahead, minus 1
        prog.append(jump(_JEQ_K, nr, n - i + 1, 0))
    prog.append(jump(_JEQ_K, numbers["ioctl"], 2, 0))  # -> ioctl block
    prog.append(stmt(_RET_K, refuse))
    prog.append(stmt(_RET_K, _RET_ALLOW))
    prog.append(stmt(_LD_W_ABS, _OFF_ARG1))
    m = len(IOCTL_ALLOWED)
    for i, request in enumerate(IOCTL_ALLOWED):
        prog.append(jump(_JEQ_K, request, m - i, 0))
    prog.append(stmt(_RET_K, refuse))
    prog.append(stmt(_RET_K, _RET_ALLOW))
    return prog
