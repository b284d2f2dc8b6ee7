"""Sandbox processes running on this machine, found by what they already carry, so that
`hostplane down` can end them, also once their data dir is gone (orphans).

A sandbox's home is `<data dir>/sandboxes/<id>`. Its processes name it: a background process's
wrapper in its command line (`<home>/processes/…`), a command run without isolation as its
working directory; its disk's loop device names its image (`<home>/disk.img`), wherever the
disk is mounted (only in the sandbox's namespace while bubblewrap's holder runs).
Everything they started is theirs too (their descendants), and so is whatever runs in the
sandbox's cgroups (`hostplane/<id>`: sandbox ids are unique across data dirs). Killing a holder
ends every process in the sandbox's PID namespace.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hostplane.compute import _disk
from hostplane.compute._holder import start_time
from hostplane.compute._limits import GROUP, Cgroups

_HOME = re.compile(r"(/.+/sandboxes/([A-Za-z0-9_-]{1,64}))/(?:workspace|identity|processes)(?:/|$)")
_CGROUP = re.compile(rf"/{GROUP}/([A-Za-z0-9_-]{{1,64}})$")
_DELETED = " (deleted)"
_WORKSPACE_MOUNT = re.compile(r"/sandboxes/([A-Za-z0-9_-]{1,64})/workspace$")


@dataclass
class Leftover:
    """One sandbox's processes on this machine."""

    sandbox_id: str
    home: Path
    pids: set[int] = field(default_factory=set)

    @property
    def data_dir(self) -> Path:
        return self.home.parent.parent

    @property
    def orphaned(self) -> bool:
        """Its data dir (or the sandbox's home in it) no longer exists: at most the mount point
        of its disk is left, which `rm -rf` can't remove while the disk is mounted."""
        try:
            left = {entry.name for entry in os.scandir(self.home)}
        except (FileNotFoundError, NotADirectoryError):
            return True
        return left <= {"workspace"} and not (self.home / _disk.IMAGE).exists()

    def view(self) -> dict[str, object]:
        return {"sandbox_id": self.sandbox_id, "data_dir": str(self.data_dir),
                "orphaned": self.orphaned, "pids": sorted(self.pids)}


def find(under: Path | None = None) -> list[Leftover]:
    """Every sandbox with a process running on this machine (whose home is under `under`, if
    given), with all of its processes."""
    prefix = None if under is None else os.path.realpath(under).rstrip("/") + "/"
    found: dict[str, Leftover] = {}
    parents: dict[int, int] = {}
    groups: dict[int, str] = {}
    for pid in _pids():
        parent = _parent(pid)
        if parent is None:
            continue  # ended meanwhile
        parents[pid] = parent
        group = _cgroup(pid)
        if group is not None:
            groups[pid] = group
        home = _home(pid)
        if home is None or (prefix is not None and not (home[0] + "/").startswith(prefix)):
            continue
        leftover = found.setdefault(home[1], Leftover(home[1], Path(home[0])))
        leftover.pids.add(pid)
    for home, sandbox_id in _disk_mounts():
        if prefix is None or (home + "/").startswith(prefix):
            found.setdefault(sandbox_id, Leftover(sandbox_id, Path(home)))
    for leftover in found.values():
        leftover.pids |= {pid for pid, group in groups.items() if group == leftover.sandbox_id}
        leftover.pids |= _descendants(leftover.pids, parents)
        leftover.pids.discard(os.getpid())
    return sorted(found.values(), key=lambda item: (str(item.data_dir), item.sandbox_id))


def end(leftover: Leftover, cgroups: Cgroups | None = None, *, wait: float = 5.0) -> list[int]:
    """Kill every process of the sandbox and remove its cgroups; answers the pids still alive
    after `wait` seconds (none, normally)."""
    cgroups = cgroups if cgroups is not None else Cgroups()
    cgroups.thaw(leftover.sandbox_id)  # a frozen process does not die until it is thawed
    started = {pid: start_time(pid) for pid in leftover.pids}
    for pid, ticks in started.items():
        if ticks is not None and start_time(pid) == ticks:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    cgroups.remove(leftover.sandbox_id)
    deadline = time.monotonic() + wait
    while True:
        alive = [pid for pid, ticks in started.items()
                 if ticks is not None and start_time(pid) == ticks]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    # Its disk, once nothing uses it: detached, so the data dir can be deleted to the end.
    with contextlib.suppress(OSError):
        _disk.unmount(leftover.home / "workspace", flush=False)
    return alive


def _disk_mounts() -> Iterator[tuple[str, str]]:
    """(home, sandbox id) of every sandbox disk mounted on this machine, running or not: on
    the host (stopped) or in a sandbox's own namespace (running; found by its loop device)."""
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as table:
        for line in table:
            point = line.split()[4].replace("\\040", " ")
            match = _WORKSPACE_MOUNT.search(point)
            if match:
                yield point[: -len("/workspace")], match.group(1)
    for image in _disk.in_use():
        match = _WORKSPACE_MOUNT.search(str(image.with_name("workspace")))
        if image.name == _disk.IMAGE and match:
            yield str(image.parent), match.group(1)


def _pids() -> Iterator[int]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def _parent(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2 :].split()[1])


def _cgroup(pid: int) -> str | None:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        match = _CGROUP.search(line)
        if match:
            return match.group(1)
    return None


def _home(pid: int) -> tuple[str, str] | None:
    """(home, sandbox id) named by the process's command line or working directory."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd").removesuffix(_DELETED)
    except OSError:
        cwd = ""
    for word in (cwd, *(w.decode(errors="replace") for w in words)):
        match = _HOME.search(word + "/") if word.startswith("/") else None
        if match:
            return match.group(1), match.group(2)
    return None


def _descendants(roots: set[int], parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
