"""Resource limits per sandbox from its size tier: memory, CPU and number of processes, in a
cgroup of its own (v2 where the unified hierarchy is writable, else the v1 `memory`, `pids` and
`cpu` hierarchies). Every command of the sandbox starts inside it, before it execs bubblewrap.
Where no cgroup is writable there are no limits, and `available` says so."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GROUP = "hostplane"
_V1_KINDS = ("memory", "pids", "cpu")
PERIOD_US = 100_000


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpu_count: int
    pids: int = 512
    disk_mb: int = 10240  # the API's default; applied by _disk, and to /tmp


class Cgroups:
    def __init__(self, root: Path = Path("/sys/fs/cgroup")) -> None:
        self.root = root
        self.version = _detect(root)
        # v1 keeps freezing in a hierarchy of its own; without it sandboxes cannot be paused.
        self._kinds = _V1_KINDS + (("freezer",) if os.access(root / "freezer", os.W_OK) else ())

    @property
    def available(self) -> bool:
        return self.version is not None

    def prepare(self, sandbox_id: str, limits: Limits) -> list[str]:
        """The sandbox's cgroups, made (or updated) with its limits; answers the `cgroup.procs`
        files a command's first process writes itself into."""
        if self.version == 2:
            group = self._v2(sandbox_id)
            _write(group / "memory.max", str(limits.memory_mb * 1024 * 1024))
            _write(group / "memory.swap.max", "0", optional=True)
            _write(group / "pids.max", str(limits.pids))
            _write(group / "cpu.max", f"{limits.cpu_count * PERIOD_US} {PERIOD_US}")
            return [str(group / "cgroup.procs")]
        if self.version == 1:
            memory, pids, cpu, *rest = (self._v1(kind, sandbox_id) for kind in self._kinds)
            _write(memory / "memory.limit_in_bytes", str(limits.memory_mb * 1024 * 1024))
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_mb * 1024 * 1024),
                   optional=True)  # no swap either, where the kernel accounts it
            _write(pids / "pids.max", str(limits.pids))
            _write(cpu / "cpu.cfs_period_us", str(PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(limits.cpu_count * PERIOD_US))
            return [str(g / "cgroup.procs") for g in (memory, pids, cpu, *rest)]
        return []

    def join(self, sandbox_id: str, limits: Callable[[], Limits]) -> list[str]:
        """The `cgroup.procs` files a command joins: the sandbox's cgroups as `create` made
        them, or made again with `limits()` when they are gone (the machine restarted)."""
        groups = self._groups(sandbox_id)
        if groups and all(g.is_dir() for g in groups):
            return [str(g / "cgroup.procs") for g in groups]
        return self.prepare(sandbox_id, limits())

    def freeze(self, sandbox_id: str) -> bool:
        """Stop every process of the sandbox where it is; False where this machine can't."""
        state = self._freezer(sandbox_id)
        if state is None or not state.parent.is_dir():
            return False
        _write(state, "1" if self.version == 2 else "FROZEN")
        return True

    def thaw(self, sandbox_id: str) -> None:
        state = self._freezer(sandbox_id)
        if state is not None and state.parent.is_dir():
            _write(state, "0" if self.version == 2 else "THAWED", optional=True)

    def frozen(self, sandbox_id: str) -> bool:
        state = self._freezer(sandbox_id)
        try:
            return state is not None and state.read_text().strip() in ("1", "FROZEN", "FREEZING")
        except OSError:
            return False

    def remove(self, sandbox_id: str) -> None:
        """Kill what still runs in the sandbox's cgroups, then remove them."""
        self.thaw(sandbox_id)  # a frozen process does not die until it is thawed
        for group in self._groups(sandbox_id):
            deadline = time.monotonic() + 5
            while group.exists() and time.monotonic() < deadline:
                for pid in _pids(group):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    group.rmdir()  # EBUSY until the killed processes are reaped
                except OSError:
                    time.sleep(0.02)

    def pids_in(self, sandbox_id: str) -> list[int]:
        return sorted({p for g in self._groups(sandbox_id) if g.exists() for p in _pids(g)})

    def _groups(self, sandbox_id: str) -> list[Path]:
        if self.version == 2:
            return [self.root / GROUP / sandbox_id]
        if self.version == 1:
            return [self.root / kind / GROUP / sandbox_id for kind in self._kinds]
        return []

    def _freezer(self, sandbox_id: str) -> Path | None:
        if self.version == 2:
            return self.root / GROUP / sandbox_id / "cgroup.freeze"
        if self.version == 1 and "freezer" in self._kinds:
            return self.root / "freezer" / GROUP / sandbox_id / "freezer.state"
        return None

    def _v2(self, sandbox_id: str) -> Path:
        parent = self.root / GROUP
        if not parent.exists():
            parent.mkdir(exist_ok=True)
            for where in (self.root, parent):  # delegate the controllers down to sandboxes
                _write(where / "cgroup.subtree_control", "+memory +pids +cpu", optional=True)
        group = parent / sandbox_id
        group.mkdir(exist_ok=True)
        return group

    def _v1(self, kind: str, sandbox_id: str) -> Path:
        group = self.root / kind / GROUP / sandbox_id
        group.mkdir(parents=True, exist_ok=True)
        return group


def join_command(procs: list[str]) -> list[str]:
    """A prefix that puts the command's first process into `procs` before it execs the rest
    (so bubblewrap and everything it starts are inside from the first instruction)."""
    if not procs:
        return []
    script = ('n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; '
              'n=$((n-1)); done; exec "$@"')
    return ["/bin/sh", "-c", script, "hostplane-cgroup", str(len(procs)), *procs]


def _detect(root: Path) -> int | None:
    if os.geteuid() != 0:
        return None
    if (root / "cgroup.controllers").exists() and os.access(root, os.W_OK):
        return 2
    if all(os.access(root / kind, os.W_OK) for kind in _V1_KINDS):
        return 1
    return None


def _write(path: Path, value: str, *, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except OSError:
        if not optional:
            raise


def _pids(group: Path) -> list[int]:
    try:
        return [int(line) for line in (group / "cgroup.procs").read_text().split()]
    except OSError:
        return []
