"""What a bubblewrap sandbox's filesystem is made of, by allowlist: the host's programs and
libraries read-only, an /etc that hostplane writes (with a few world-readable host files programs
need), a /proc of its own with the kernel's private files covered.

Nothing here names a host path of hostplane's data: files hostplane writes reach the sandbox as
the contents of descriptors (`--ro-bind-data`), and bubblewrap reads its arguments from a
descriptor (`--args`), so they are not in the command line of the sandbox's PID 1 either.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

HOSTNAME = "sandbox"
USER = "user"
# What programs look for in the host's /etc, and the only things of it a sandbox gets (each only
# if the host lets every user read it): the `alternatives` links behind awk, editor and friends,
# the dynamic loader's configuration, TLS roots, fonts; then files copied in: the loader's cache,
# time zone, MIME, protocol and service tables.
ETC_DIRS_FROM_HOST = ("alternatives", "ld.so.conf.d", "ssl/certs", "fonts")
ETC_FILES_FROM_HOST = (
    "ld.so.cache", "ld.so.conf", "ssl/openssl.cnf", "localtime", "timezone", "mime.types",
    "magic", "magic.mime", "protocols", "services", "rpc", "ethertypes", "os-release",
    "debian_version", "locale.alias", "inputrc", "bash.bashrc",
)
# /proc files root could use against the whole machine, or that say where the kernel keeps
# things; each one is covered whatever its mode says.
_PROC_COVERED = ("sysrq-trigger", "kcore", "keys", "timer_list", "sched_debug", "kallsyms",
                 "kpageflags", "kpagecount", "kpagecgroup")
# Processes' own directories, and large trees of world-readable files (read-only in the
# sandbox: sys, fs, acpi; per interrupt and per device: irq, bus), which the sandbox's uid could
# not read a private file of anyway: walking them would cost every start milliseconds.
_PROC_NOT_WALKED = ("self", "thread-self", "sys", "fs", "acpi", "irq", "bus")


@dataclass
class Layout:
    """bubblewrap arguments and the descriptors they name (closed by the caller's `with`)."""

    args: list[str] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)

    def data(self, content: str, dest: str) -> None:
        """A file at `dest` holding `content` (read-only, every user may read it)."""
        self._file(_memory_file(content), dest)

    def sealed(self) -> str:
        """The descriptor bubblewrap reads all these arguments from (`--args`)."""
        fd = _memory_file("".join(f"{arg}\0" for arg in self.args))
        self.fds.append(fd)
        return str(fd)

    def copy(self, source: str, dest: str) -> None:
        """The host file `source` copied to `dest` (--file), if every user may read it: a
        copy, not a mount, so replacing the host's file never changes what the sandbox sees."""
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return  # not on this host
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) and mode & stat.S_IROTH:
            self._file(fd, dest)
        else:
            os.close(fd)

    def _file(self, fd: int, dest: str) -> None:
        self.fds.append(fd)
        # Files bubblewrap makes from data are its owner's only unless told otherwise.
        self.args += ["--perms", "0444", "--file", str(fd), dest]


def _memory_file(content: str) -> int:
    fd = os.memfd_create("sandbox", os.MFD_CLOEXEC)  # bubblewrap gets it through pass_fds
    os.write(fd, content.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@contextlib.contextmanager
def made() -> Iterator[Layout]:
    layout = Layout()
    try:
        yield layout
    finally:
        for fd in layout.fds:
            os.close(fd)


def python_bin_dir() -> str:
    """Where `python3` lives for sandbox commands: the real interpreter, not hostplane's venv."""
    real = os.path.dirname(os.path.realpath(sys.executable))
    return (
        real if os.path.exists(os.path.join(real, "python3")) else os.path.dirname(sys.executable)
    )


def sources() -> list[str]:
    """The host paths `system()` binds from."""
    return ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
            os.path.realpath(sys.base_prefix), python_bin_dir()]


def system() -> list[str]:
    """The host's programs and libraries, read-only."""
    args = ["--ro-bind", "/usr", "/usr"]
    # The host's font cache (world-readable, read-only): without it every program that draws text
    # (a desktop's window manager, terminal, browser) first spends seconds building its own.
    if os.path.isdir("/var/cache/fontconfig"):  # its parents made every user's to enter
        args += ["--perms", "0755", "--dir", "/var", "--perms", "0755", "--dir", "/var/cache",
                 "--ro-bind", "/var/cache/fontconfig", "/var/cache/fontconfig"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # The interpreter may live outside /usr (pyenv, a venv's base); parents go first so that a
    # directory already inside a bound one is skipped.
    bound = ["/usr"]
    wanted = {os.path.realpath(sys.base_prefix), python_bin_dir()}
    for extra in sorted(wanted, key=len):
        if not any(extra == b or extra.startswith(b + "/") for b in bound):
            args += ["--ro-bind-try", extra, extra]
            bound.append(extra)
    return args


def etc(layout: Layout, uid: int) -> None:
    """The sandbox's own /etc: its users (the sandbox's uid is `user`, at home in /workspace),
    its name, no resolver (it has no network but its loopback), and ETC_FROM_HOST."""
    layout.args += ["--perms", "0755", "--tmpfs", "/etc"]
    files = {
        "passwd": (f"root:x:0:0:root:/root:/bin/sh\n{USER}:x:{uid}:{uid}:{USER}:/workspace:"
                   "/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
        "group": f"root:x:0:\n{USER}:x:{uid}:\nnogroup:x:65534:\n",
        "hosts": (f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n"
                  "::1\tlocalhost ip6-localhost ip6-loopback\n"),
        "hostname": f"{HOSTNAME}\n",
        "resolv.conf": "# No name servers: this machine has no network beyond its loopback.\n",
        "nsswitch.conf": ("passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                          "networks: files\nprotocols: files\nservices: files\nethers: files\n"
                          "rpc: files\n"),
    }
    # Directories first: bubblewrap would make a parent of a file its owner's only.
    layout.args += ["--perms", "0755", "--dir", "/etc/ssl"]
    for name in ETC_DIRS_FROM_HOST:
        layout.args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for name, content in files.items():
        layout.data(content, f"/etc/{name}")
    for name in ETC_FILES_FROM_HOST:
        layout.copy(f"/etc/{name}", f"/etc/{name}")
    layout.args += ["--remount-ro", "/etc"]


def proc() -> list[str]:
    """The sandbox's own /proc. What root could change for the whole machine is read-only
    (/proc/sys: core_pattern would run a program on the host); _PROC_COVERED and whatever the
    kernel keeps from other users (slabinfo, vmallocinfo, pagetypeinfo...: not world-readable,
    looked at now, as this kernel has them) are covered."""
    args = ["--dev", "/dev", "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
    for name in ("fs", "acpi", "scsi"):
        if os.path.isdir(f"/proc/{name}"):
            args += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
    for path in sorted({*(f"/proc/{name}" for name in _PROC_COVERED), *_private_proc()}):
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue  # not in this kernel
        if stat.S_ISDIR(mode):
            args += ["--perms", "0555", "--tmpfs", path]
        elif not stat.S_ISLNK(mode):
            args += ["--ro-bind", "/dev/null", path]
    return args


def _private_proc() -> Iterator[str]:
    """Files and directories of /proc that other users of the host may not read (not looked
    for in _PROC_NOT_WALKED)."""
    # /proc's own names, without going through the one directory per process of the host
    # (thousands on a busy machine): Linux lists its own entries first, then the processes in
    # order (fs/proc/root.c), so the first number ends them.
    walked = []
    with os.scandir("/proc") as entries:
        names = []
        for entry in entries:
            if entry.name.isdigit():
                break
            names.append(entry.name)
    for name in names:
        if name in _PROC_NOT_WALKED:
            continue
        path = os.path.join("/proc", name)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue  # gone since it was listed
        if _private(path):
            yield path  # covered whole
        elif stat.S_ISDIR(mode):
            walked.append(path)
    for below in walked:
        for top, dirs, files in os.walk(below):
            private = [name for name in (*files, *dirs) if _private(os.path.join(top, name))]
            dirs[:] = [d for d in dirs if d not in private]  # covered whole
            yield from (os.path.join(top, name) for name in private)


def _private(path: str) -> bool:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False  # gone since it was listed
    return not stat.S_ISLNK(mode) and not mode & stat.S_IROTH
