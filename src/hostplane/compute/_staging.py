"""Where holders are started from: a private copy of the host's mount namespace, made once per
driver and trimmed to what a sandbox's layout reads (the system's directories, /proc, /dev, /sys,
the sandboxes' tree), with every other mount taken out of it: the disks of other sandboxes (of
this data dir, of other data dirs on the machine), container and snap mounts...

bubblewrap reads the whole mount table of its namespace for every mount it makes (some forty per
sandbox), and its namespace starts as a copy of the one it was started in. Started from here,
that table has a couple of dozen entries however many mounts the host has, so starting a sandbox
costs the same with 1 or 1,000 of them.

No process holds it: a descriptor of it does. Work is done in it by a short-lived thread that
joins it (its own filesystem context first, so the rest of the process stays where it is), the
way `_holder.connect` joins a sandbox's network. Processes started from that thread start in it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from hostplane.compute._holder import in_own_thread, libc

log = logging.getLogger("hostplane.compute")
T = TypeVar("T")
_CLONE_FS, _CLONE_NEWNS = 0x200, 0x20000
_MS_REC, _MS_PRIVATE, _MNT_DETACH = 0x4000, 0x40000, 0x2


class Staging:
    def __init__(self, needed: Iterable[str], skipped: Iterable[str]) -> None:
        """`needed`: paths whose mounts (and the mounts they are on) must stay; mounts below
        them stay too, except below `skipped` (the sandboxes' tree: their disks)."""
        self._needed = tuple(os.path.normpath(p) for p in needed)
        self._skipped = tuple(os.path.normpath(p) for p in skipped)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._failed = False

    def run(self, fn: Callable[[], T]) -> T | None:
        """fn() in the namespace (its result), or None without calling it when there is no
        namespace (it could not be made: the caller does the work where it is)."""
        fd = self._made()
        if fd is None:
            return None
        return in_own_thread(lambda: (_join(fd), fn())[1], "sandbox-staging")

    def _made(self) -> int | None:
        with self._lock:
            if self._fd is None and not self._failed:
                try:
                    self._fd = in_own_thread(self._make, "sandbox-staging")
                except OSError as exc:
                    self._failed = True
                    log.warning("Sandboxes start in the host's mount namespace (%s): each start "
                                "costs more with every mount the host has.", exc)
            return self._fd

    def _make(self) -> int:
        _check(libc().unshare(_CLONE_FS | _CLONE_NEWNS), "unshare")
        # Private: nothing mounted on the host later comes in, nothing done here goes out.
        _check(libc().mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make it private")
        with open("/proc/thread-self/mountinfo") as table:
            points = [_unescape(line.split()[4]) for line in table]
        for point in sorted(set(points), key=len, reverse=True):
            if not self._kept(point):
                libc().umount2(point.encode(), _MNT_DETACH)  # gone with a parent already: fine
        return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

    def _kept(self, point: str) -> bool:
        if point == "/":
            return True
        for path in self._needed:
            if path == point or path.startswith(point.rstrip("/") + "/"):
                return True  # what a needed path is on
            if point.startswith(path + "/"):
                return not any(point.startswith(s + "/") for s in self._skipped)
        return False


def _join(fd: int) -> None:
    _check(libc().unshare(_CLONE_FS), "unshare")  # this thread's root and cwd, not the process's
    _check(libc().setns(fd, _CLONE_NEWNS), "setns")


def _check(code: int, what: str) -> None:
    if code != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    return (field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            .replace("\\134", "\\"))
