"""Request and response shapes for running commands and moving files in a sandbox (contract §8.4)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hostplane import errors
from hostplane.compute.port import ExecResult, FileEntry
from hostplane.inputs import RawText
from hostplane.resources.inputs import Env

SandboxPath = RawText(1, 4096)


class ExecRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: RawText(1, 100_000)  # type: ignore[valid-type]
    cwd: SandboxPath | None = None
    working_dir: SandboxPath | None = None
    env: Env | None = None
    timeout: Annotated[int, Field(ge=1, le=86400)] | None = None
    timeout_sec: Annotated[int, Field(ge=1, le=86400)] | None = None

    def limits(self, max_seconds: int) -> tuple[str | None, float]:
        """The working directory and timeout to use (the aliases folded in), within the limit."""
        timeout = self.timeout or self.timeout_sec or 60
        if timeout > max_seconds:
            raise errors.Invalid(
                f"timeout {timeout} s is over this server's limit.", field="timeout",
                rule=f"at most {max_seconds} seconds", fix="Run long work as a background job.")
        return self.cwd or self.working_dir, float(timeout)


class ExecPublic(BaseModel):
    stdout: str
    stderr: str
    exit_code: int
    exitCode: int  # noqa: N815 - Client quirk: the TypeScript client's spelling
    duration_ms: int
    timed_out: bool
    truncated: bool

    @classmethod
    def of(cls, result: ExecResult) -> ExecPublic:
        return cls(stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code,
                   exitCode=result.exit_code, duration_ms=result.duration_ms,
                   timed_out=result.timed_out, truncated=result.truncated)


class FileWrite(BaseModel):
    """`content_base64` (canonical), or `content`: verbatim text on /fs/write, base64 on the
    legacy POST /files."""

    model_config = ConfigDict(extra="ignore")

    path: SandboxPath
    content_base64: str | None = None
    content: str | None = None

    def data(self, *, legacy: bool) -> bytes:
        if self.content_base64 is not None:
            return _b64(self.content_base64, "content_base64")
        if self.content is None:
            raise errors.Invalid("No file content given.", field="content_base64",
                                 rule="send content_base64 (or content)",
                                 fix='Send {"path": "/workspace/a.txt", "content_base64": "..."}.')
        return _b64(self.content, "content") if legacy else self.content.encode()


class PathRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: SandboxPath


class FileEntryPublic(BaseModel):
    name: str
    path: str
    size: int
    is_dir: bool
    type: str
    modified_at: datetime

    @classmethod
    def of(cls, entry: FileEntry) -> FileEntryPublic:
        return cls(name=entry.name, path=entry.path, size=entry.size, is_dir=entry.is_dir,
                   type="directory" if entry.is_dir else "file",
                   modified_at=datetime.fromtimestamp(entry.modified_at, UTC))


class FileListPublic(BaseModel):
    path: str
    depth: int
    entries: list[FileEntryPublic]


def _b64(value: str, field: str) -> Any:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.Invalid(f"{field} is not valid base64.", field=field,
                             rule="standard base64 (RFC 4648), no line breaks",
                             fix="Encode the bytes with base64.") from None
