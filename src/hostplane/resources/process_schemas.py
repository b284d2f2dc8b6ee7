"""Request and response shapes for a sandbox's background processes, ports and streamed output
(issue "Local compute driver" §2, §3; contract §8.4 for exec/stream)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from hostplane import errors
from hostplane.compute.port import OutputChunk, ProcessInfo
from hostplane.inputs import RawText
from hostplane.resources.file_schemas import SandboxPath
from hostplane.resources.inputs import Env


class ProcessCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: RawText(1, 100_000)  # type: ignore[valid-type]
    cwd: SandboxPath | None = None
    working_dir: SandboxPath | None = None
    env: Env | None = None
    timeout: Annotated[int, Field(ge=1, le=30 * 86400)] | None = None
    timeout_sec: Annotated[int, Field(ge=1, le=30 * 86400)] | None = None

    @property
    def directory(self) -> str | None:
        return self.cwd or self.working_dir

    @property
    def seconds(self) -> int | None:
        """How long it may run; None: until it ends, is stopped, or its sandbox stops."""
        return self.timeout or self.timeout_sec


class ProcessPublic(BaseModel):
    id: str
    process_id: str
    command: str
    cwd: str
    state: str = Field(description="running, exited, timed_out, stopped (through the API or "
                                   "with its sandbox) or lost (its sandbox crashed)")
    running: bool
    exit_code: int | None
    started_at: datetime
    output_bytes: int
    timeout_sec: float | None

    @classmethod
    def of(cls, info: ProcessInfo) -> ProcessPublic:
        return cls(id=info.id, process_id=info.id, command=info.command, cwd=info.cwd,
                   state=info.state, running=info.state == "running", exit_code=info.exit_code,
                   started_at=datetime.fromtimestamp(info.started_at, UTC),
                   output_bytes=info.output_bytes, timeout_sec=info.timeout)


class OutputPublic(BaseModel):
    output: str = Field(description="UTF-8, invalid bytes replaced; stdout and stderr together")
    offset: int = Field(description="byte offset of output in the process's whole output")
    next_offset: int = Field(description="ask with offset=next_offset for what comes after")
    done: bool = Field(description="the process has ended and all its output has been read")
    truncated: bool = Field(description="it wrote more than is kept; the rest was dropped")

    @classmethod
    def of(cls, chunk: OutputChunk) -> OutputPublic:
        return cls(output=chunk.data.decode("utf-8", errors="replace"), offset=chunk.offset,
                   next_offset=chunk.next_offset, done=chunk.done, truncated=chunk.truncated)


class PortPublic(BaseModel):
    port: int
    protocol: str = "tcp"
    url: str = Field(description="the port's preview URL")


class PortsPublic(BaseModel):
    sandbox_id: str
    ports: list[PortPublic]


def check_offsets(offset: int | None, tail: int | None) -> None:
    if offset is not None and tail is not None:
        raise errors.Invalid("offset and tail cannot be used together.", field="tail",
                             rule="one of offset (from a byte offset) or tail (the last bytes)",
                             fix="Drop one of them.")
