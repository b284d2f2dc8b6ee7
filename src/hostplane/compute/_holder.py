"""A sandbox's namespaces, kept open by one long-lived process per sandbox: the holder.

The holder is bubblewrap running `sleep infinity` in the sandbox's own mount, PID, network, IPC and
UTS namespaces; bubblewrap's init is PID 1 inside and reaps orphans. Commands enter those
namespaces with nsenter, then setpriv makes them the sandbox's own host uid without any
capability before their shell starts, so what one command leaves (a server on a port, files in
/tmp) the next one sees.

The holder does not die with the hostplane process that started it: the API can restart without
stopping sandboxes. `holder.json` beside the workspace records which process it is (pid, start
time, and the inode of each of its namespaces), so every hostplane process on the machine finds
it. A command enters namespaces that hostplane opened and checked against those inodes (`pin`),
never "whatever process now has that pid".
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from hostplane import errors
from hostplane.compute.port import WORKSPACE

T = TypeVar("T")

STATE_FILE = "holder.json"
# Inside the sandbox: which sandbox this is, checked by every command before it runs (a pid reused
# by another process would otherwise lead nsenter into that process's namespaces).
IDENTITY = "/run/sandbox/id"
SETPRIV = "/usr/bin/setpriv"
_START_TIMEOUT = 10.0
_CLONE_NEWNET = 0x40000000


NAMESPACES = ("mnt", "pid", "net", "ipc", "uts")


@dataclass(frozen=True)
class Holder:
    pid: int  # the host's pid of the sandbox's PID 1
    started: int  # its start time in clock ticks after boot: a reused pid has another
    ns: dict[str, int]  # the inode of each of its namespaces

    def alive(self) -> bool:
        return start_time(self.pid) == self.started

    @property
    def outdated(self) -> bool:
        """Started by a hostplane before sandboxes ran as uids of their own (in a user
        namespace, as its root): it must be started again the way sandboxes are now."""
        return "user" in self.ns


@dataclass(frozen=True)
class Pinned:
    """Descriptors of a running holder's namespaces, root and working directory, each checked to
    be the holder's: what nsenter enters (as /proc/self/fd/N), whatever the pid means by then."""

    fds: dict[str, int]

    def argv(self, nsenter: str, uid: int, owner: int | None = None) -> list[str]:
        """The command prefix that runs what follows inside the sandbox, at its root and in
        /workspace, as `uid` (its group the same number, no other), with no capability left and
        no way to gain one. nsenter opens the descriptors as the process `owner`'s (which keeps
        them open until the command has ended), or as its own (passed to it: then they stay
        open in what follows, which must close them)."""
        flags = {"mnt": "--mount", "pid": "--pid", "net": "--net", "ipc": "--ipc", "uts": "--uts",
                 "root": "--root", "cwd": "--wd"}
        at = "self" if owner is None else str(owner)
        return [nsenter, *(f"{flags[name]}=/proc/{at}/fd/{fd}" for name, fd in self.fds.items()),
                "--", SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--"]


@contextlib.contextmanager
def pin(holder: Holder) -> Iterator[Pinned]:
    fds: dict[str, int] = {}
    try:
        for name, inode in holder.ns.items():
            fds[name] = os.open(f"/proc/{holder.pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            if os.fstat(fds[name]).st_ino != inode:
                raise ProcessLookupError(holder.pid)
        for name in ("root", "cwd"):
            fds[name] = os.open(f"/proc/{holder.pid}/{name}",
                                os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if not holder.alive():  # the root and cwd were read from the holder, not a newcomer
            raise ProcessLookupError(holder.pid)
    except OSError:
        for fd in fds.values():
            os.close(fd)
        raise errors.Conflict("The sandbox's processes ended just now.", code="SANDBOX_NOT_RUNNING",
                              fix="Retry; the sandbox starts again if it should be running.",
                              ) from None
    try:
        yield Pinned(fds)
    finally:
        for fd in fds.values():
            os.close(fd)


def open_workspace(holder: Holder) -> int:
    """A descriptor of /workspace in the holder's mount namespace (where the sandbox's disk is
    mounted), opened through the holder's root and checked to be the holder's; raises
    ProcessLookupError when the holder has ended."""
    try:
        root = os.open(f"/proc/{holder.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise ProcessLookupError(holder.pid) from None
    try:
        if not holder.alive():  # the root was read from the holder, not a newcomer
            raise ProcessLookupError(holder.pid)
        return os.open(WORKSPACE.lstrip("/"),
                       os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root)
    finally:
        os.close(root)


def start_time(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; the fields after its last ')' are fixed.
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None  # dead, only not yet reaped
    return int(fields[19])  # field 22 of stat(5), counted from the state (field 3)


def read(home: Path) -> Holder | None:
    """The sandbox's holder if it is still running, else None."""
    try:
        found = Holder(**json.loads((home / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return found if found.alive() else None


class Gone(errors.Conflict):
    """The sandbox has no home on this machine (any more)."""

    def __init__(self, home: Path) -> None:
        super().__init__(f"Sandbox {home.name} is not running on this machine: it was destroyed.",
                         code="SANDBOX_NOT_RUNNING", fix="Create a new sandbox.")


@contextlib.contextmanager
def locked(home: Path, *, shared: bool = False) -> Iterator[None]:
    """The sandbox's lock, across hostplane processes: exclusive for start, stop, pause, resume
    and destroy; shared while a command is being started (it must not start half-way through a
    stop, or in a sandbox being destroyed)."""
    try:
        fd = os.open(home / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        raise Gone(home) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start(home: Path, argv: Callable[[int], list[str]], prefix: list[str], env: dict[str, str],
          *, pass_fds: list[int]) -> tuple[Holder, subprocess.Popen[bytes]]:
    """Start the holder and wait until it runs. `argv(info)` is the bubblewrap command that
    reports its child's pid on descriptor `info` (`--info-fd`), and whose command writes "ready"
    to its standard output once bubblewrap has finished making the sandbox (the pid comes
    before that). `pass_fds` are the descriptors argv names besides."""
    info_r, info_w = os.pipe()
    ready_r, ready_w = os.pipe()
    # A pipe, not a file: the sandbox can reopen its PID 1's descriptors (/proc/1/fd/2), and a
    # host file there would be a way to write outside its workspace.
    err_r, err_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [*prefix, *argv(info_w)], env=env, stdin=subprocess.DEVNULL, stdout=ready_w,
            stderr=err_w, pass_fds=(info_w, *pass_fds), start_new_session=True,
            cwd="/",  # the sandbox's PID 1 must not show where hostplane runs (its PWD)
        )  # fmt: skip
    finally:
        for fd in (info_w, ready_w, err_w):
            os.close(fd)
    deadline = time.monotonic() + _START_TIMEOUT
    try:
        info = _read_all(info_r, deadline)
        ready = _read_all(ready_r, deadline, until=b"\n")
        problem = b"" if ready == b"ready\n" else _read_all(err_r, time.monotonic() + 1)
    finally:
        for fd in (info_r, ready_r, err_r):
            os.close(fd)
    try:
        if ready != b"ready\n":
            raise ValueError("the sandbox did not start")
        child = int(json.loads(info)["child-pid"])
        namespaces = {name: os.stat(f"/proc/{child}/ns/{name}").st_ino for name in NAMESPACES}
        holder = Holder(child, start_time(child) or -1, namespaces)
    except (ValueError, KeyError, TypeError, OSError):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        lines = problem.decode(errors="replace").strip().splitlines()
        raise errors.Unavailable(
            "The sandbox's namespaces could not be made: "
            + (lines[-1] if lines else f"bubblewrap exited with {proc.returncode}"),
            code="SANDBOX_START_FAILED", fix="Retry; if it keeps failing, tell the operator.",
        ) from None
    _write_state(home, holder)
    return holder, proc


def stop(home: Path) -> None:
    """End the holder: killing PID 1 ends every process in the sandbox's PID namespace."""
    holder = read(home)
    if holder is not None:
        try:
            pidfd = os.pidfd_open(holder.pid)
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            try:
                if holder.alive():  # checked with the process held: the signal goes to it
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            finally:
                os.close(pidfd)
        deadline = time.monotonic() + 5  # a kill takes effect soon, not at once
        while holder.alive() and time.monotonic() < deadline:
            time.sleep(0.005)
    with contextlib.suppress(FileNotFoundError):
        (home / STATE_FILE).unlink()


def connect(holder: Holder, port: int, timeout: float) -> socket.socket:
    """A TCP connection to `port` on the sandbox's loopback, made from a short-lived thread that
    joins the sandbox's network namespace (the socket stays there; the thread then ends)."""
    def inside() -> socket.socket:
        fd = os.open(f"/proc/{holder.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            # The descriptor pins the namespace: a reused pid cannot swap in the host's.
            if os.fstat(fd).st_ino != holder.ns["net"]:
                raise ConnectionRefusedError("the sandbox is no longer running")
            if libc().setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)
        return _connect_loopback(port, timeout)

    return in_own_thread(inside, "sandbox-connect")


def in_own_thread(fn: Callable[[], T], name: str) -> T:
    """`fn()` in a short-lived thread of its own (one that may join another namespace and then
    end), its result returned or its exception raised here."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # re-raised in the caller
            result["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]  # type: ignore[return-value]


def _connect_loopback(port: int, timeout: float) -> socket.socket:
    last: OSError | None = None
    for host in ("127.0.0.1", "::1"):  # a server may listen on either loopback only
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            last = exc
    assert last is not None
    raise last


def libc() -> ctypes.CDLL:
    """The C library, for the system calls Python has no function for (setns, mount)."""
    return ctypes.CDLL(None, use_errno=True)


def _read_all(fd: int, deadline: float, until: bytes | None = None) -> bytes:
    data = b""
    while time.monotonic() < deadline and not (until and until in data):
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def _write_state(home: Path, holder: Holder) -> None:
    temp = home / f".{STATE_FILE}.{secrets.token_hex(6)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(holder), handle)
    os.replace(temp, home / STATE_FILE)
