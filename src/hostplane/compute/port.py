"""The compute driver port: what hostplane asks of whatever runs sandboxes.

The local driver (`compute/local.py`) runs them as processes on this machine; remote drivers
(Kubernetes, microVM hosts) plug in behind the same methods. Paths given to a driver are paths as
the sandbox sees them (absolute, under `/workspace`, or relative to it). Drivers raise the
`hostplane.errors` tree, never their own exceptions.
"""

from __future__ import annotations

import socket
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

WORKSPACE = "/workspace"

# What a driver can run. Resources whose capability a driver lacks stay in a truthful
# not-running state with a status_reason.
SANDBOX = "sandbox"
DESKTOP = "desktop"


@dataclass(frozen=True)
class SandboxSpec:
    """What the driver needs to bring a sandbox up."""

    id: str
    slug: str
    cpu_count: int = 1
    memory_mb: int = 2048
    disk_mb: int = 10240  # its workspace's size (and its /tmp's), where the driver can bound it
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DriverStatus:
    """`running` only when the sandbox can take commands; otherwise why not."""

    state: str  # running | stopped | error
    reason: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int
    duration_ms: int
    timed_out: bool = False
    truncated: bool = False


@dataclass(frozen=True)
class ProcessInfo:
    """A background process of a sandbox."""

    id: str
    command: str
    cwd: str
    state: str  # running | exited | timed_out | stopped | lost (its sandbox crashed)
    exit_code: int | None
    started_at: float  # POSIX seconds
    output_bytes: int
    timeout: float | None = None


@dataclass(frozen=True)
class OutputChunk:
    """A piece of a process's output: bytes [offset, next_offset)."""

    data: bytes
    offset: int
    next_offset: int
    done: bool  # the process has ended and everything it wrote has been read
    truncated: bool  # it wrote more than is kept; the rest was dropped


@dataclass(frozen=True)
class FileEntry:
    name: str
    path: str  # as the sandbox sees it, e.g. /workspace/app/index.html
    size: int
    is_dir: bool
    modified_at: float  # POSIX seconds


class ComputeDriver(Protocol):
    name: str

    def capabilities(self) -> frozenset[str]:
        """The resource kinds this driver can run (SANDBOX, DESKTOP, ...)."""
        ...

    def create_sandbox(self, spec: SandboxSpec) -> DriverStatus:
        """Make the sandbox and start it; idempotent for the same id."""
        ...

    def sandbox_status(self, sandbox_id: str) -> DriverStatus: ...

    def destroy_sandbox(self, sandbox_id: str) -> None:
        """Remove everything the driver made for the sandbox; a no-op if nothing is left."""
        ...

    def exec(
        self,
        sandbox_id: str,
        command: str,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> ExecResult:
        """Run `command` through a shell inside the sandbox and wait for it."""
        ...

    def exec_stream(
        self,
        sandbox_id: str,
        command: str,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Generator[tuple[str, bytes], None, ExecResult]:
        """Like exec, yielding ("stdout" | "stderr", bytes) as output comes; returns the result."""
        ...

    # Lifecycle of a created sandbox: its processes end on stop (files stay), freeze on pause.
    def stop_sandbox(self, sandbox_id: str) -> None: ...

    def start_sandbox(self, sandbox_id: str) -> DriverStatus: ...

    def pause_sandbox(self, sandbox_id: str) -> None: ...

    def resume_sandbox(self, sandbox_id: str) -> None: ...

    def sandbox_ids(self) -> list[str]:
        """Every sandbox the driver holds anything for (for reconciling with the database)."""
        ...

    def held_since(self, sandbox_id: str) -> float:
        """When the driver made the sandbox (POSIX seconds)."""
        ...

    def last_activity(self, sandbox_id: str) -> float | None:
        """When a command, process or file operation last used the sandbox (POSIX seconds)."""
        ...

    # Network: what the edge router needs.
    def list_ports(self, sandbox_id: str) -> list[int]: ...

    def open_connection(self, sandbox_id: str, port: int, *, timeout: float = 5.0) -> socket.socket:
        ...

    def touch(self, sandbox_id: str) -> None:
        """Count now as activity (for idle_timeout_sec): the edge calls it as traffic passes."""
        ...

    # Background processes.
    def start_process(self, sandbox_id: str, command: str, *, cwd: str | None = None,
                      env: Mapping[str, str] | None = None,
                      timeout: float | None = None) -> ProcessInfo: ...

    def list_processes(self, sandbox_id: str) -> list[ProcessInfo]: ...

    def get_process(self, sandbox_id: str, process_id: str) -> ProcessInfo: ...

    def stop_process(self, sandbox_id: str, process_id: str) -> ProcessInfo: ...

    def read_output(self, sandbox_id: str, process_id: str, *, offset: int | None = None,
                    tail: int | None = None) -> OutputChunk: ...

    def write_file(self, sandbox_id: str, path: str, data: bytes) -> FileEntry: ...

    def read_file(self, sandbox_id: str, path: str, *, max_bytes: int) -> bytes: ...

    def list_files(self, sandbox_id: str, path: str, *, depth: int = 1) -> list[FileEntry]: ...

    def stat(self, sandbox_id: str, path: str) -> FileEntry: ...
