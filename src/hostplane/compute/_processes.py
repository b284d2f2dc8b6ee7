"""Background processes of a sandbox: started through the same entry as exec, their output in a
log beside the workspace (out of the sandbox's sight), their end recorded by a small host-side
shell that waits for them. Both survive an API restart: any hostplane process on the machine
reads a process's state from its directory.

    <home>/processes/<id>/meta.json   what was started, and which host process waits for it
                          output      stdout and stderr together, the first OUTPUT_CAP bytes
                          exit        its exit code, once it has ended by itself
                          timeout     its time ran out (it was killed)
                          stopped     it was stopped, through the API or with its sandbox
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hostplane import errors
from hostplane.compute import _holder, _runner
from hostplane.compute.port import OutputChunk, ProcessInfo

OUTPUT_CAP = 8 * 1024 * 1024
MAX_PROCESSES = 64  # kept per sandbox, running or ended; the oldest ended ones make room
READ_MAX = 256 * 1024
# The host-side shell: its time limit (a sleeper that kills the whole process group), the
# command, its exit code, and at most `cap` bytes of output (the rest is read and dropped, so the
# command never blocks on a full pipe). dd, not head: head holds output back in a stdio buffer.
# The sleeper ends its own sleep when told to stop, so none outlives a command that ended in time.
_WRAPPER = (
    'e=$1; c=$2; t=$3; shift 3; '
    'if [ "$t" != 0 ]; then ( trap \'kill $s 2>/dev/null; exit 0\' TERM; sleep "$t" & s=$!; '
    'wait $s && { : > "$e.timeout"; kill -KILL 0; } ) & w=$!; fi; '
    '{ "$@"; echo $? > "$e"; } 2>&1 | '
    '{ dd bs=65536 count="$c" iflag=count_bytes status=none; cat > /dev/null; }; '
    '[ -z "$w" ] || kill "$w" 2>/dev/null'
)


@dataclass(frozen=True)
class _Meta:
    id: str
    command: str
    cwd: str
    started_at: float
    pid: int  # the host-side shell; its process group holds everything the command started
    ticks: int  # its start time, so a reused pid is not taken for it
    timeout: float | None


def start(home: Path, launch: _runner.Launch, command: str, cwd: str,
          timeout: float | None) -> tuple[ProcessInfo, subprocess.Popen[bytes]]:
    root = home / "processes"
    root.mkdir(mode=0o700, exist_ok=True)
    process_id = "proc_" + secrets.token_hex(8)
    folder = root / process_id
    with _locked(root):  # one start at a time counts and makes room
        _make_room(root)
        folder.mkdir(mode=0o700)
    argv = ["/bin/sh", "-c", _WRAPPER, "process", str(folder / "exit"), str(OUTPUT_CAP),
            _seconds(timeout), *launch.argv]
    wrapped = dataclasses.replace(launch, argv=argv)
    out = os.open(folder / "output", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        # The shell's own complaints ("Killed" when stopped) are not the command's output.
        proc = _runner.start(wrapped, stdout=out, stderr=subprocess.DEVNULL)
    finally:
        os.close(out)
    meta = _Meta(process_id, command, cwd, time.time(), proc.pid,
                 _holder.start_time(proc.pid) or -1, timeout)
    (folder / "meta.json").write_text(json.dumps(meta.__dict__))
    return _info(folder, meta), proc


def list_all(home: Path) -> list[ProcessInfo]:
    found = [_read(folder) for folder in _folders(home / "processes")]
    return sorted((info for info in found if info is not None), key=lambda i: i.started_at)


def get(home: Path, process_id: str) -> ProcessInfo:
    info = _read(_folder(home, process_id))
    if info is None:
        raise _not_found(process_id)
    return info


def stop(home: Path, process_id: str) -> ProcessInfo:
    folder = _folder(home, process_id)
    meta = _meta(folder)
    if meta is None:
        raise _not_found(process_id)
    if _alive(meta):
        (folder / "stopped").touch()
        _runner.kill_group(meta.pid)
        deadline = time.monotonic() + 5
        while _alive(meta) and time.monotonic() < deadline:
            time.sleep(0.01)
    return _info(folder, meta)


def mark_all_stopped(home: Path) -> None:
    """Its sandbox is stopping: the processes still running end with it, as stopped."""
    for folder in _folders(home / "processes"):
        meta = _meta(folder)
        if meta is not None and _alive(meta):
            (folder / "stopped").touch()


def read_output(home: Path, process_id: str, *, offset: int | None, tail: int | None,
                limit: int = READ_MAX) -> OutputChunk:
    """Output from `offset` (or the last `tail` bytes), at most `limit` bytes of it."""
    folder = _folder(home, process_id)
    meta = _meta(folder)
    if meta is None:
        raise _not_found(process_id)
    ended = not _alive(meta)  # read before the output: what it wrote before ending is there
    try:
        fd = os.open(folder / "output", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _not_found(process_id) from None
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start_at = max(size - tail, 0) if tail is not None else min(offset or 0, size)
        handle.seek(start_at)
        data = handle.read(min(limit, READ_MAX))
    next_offset = start_at + len(data)
    return OutputChunk(data=data, offset=start_at, next_offset=next_offset,
                       done=ended and next_offset >= size, truncated=size >= OUTPUT_CAP)


def _info(folder: Path, meta: _Meta) -> ProcessInfo:
    running = _alive(meta)
    code = _exit_code(folder)
    if running:
        state = "running"
    elif (folder / "stopped").exists():
        state = "stopped"
    elif (folder / "exit.timeout").exists():
        state, code = "timed_out", _runner.TIMEOUT_EXIT_CODE
    elif code is not None:
        state = "exited"
    else:
        state = "lost"  # ended with the sandbox (stopped, or its holder gone)
    try:
        size = (folder / "output").stat().st_size
    except OSError:
        size = 0
    return ProcessInfo(
        id=meta.id, command=meta.command, cwd=meta.cwd, state=state,
        exit_code=None if running else code, started_at=meta.started_at, output_bytes=size,
        timeout=meta.timeout)


def _read(folder: Path) -> ProcessInfo | None:
    meta = _meta(folder)
    return None if meta is None else _info(folder, meta)


def _meta(folder: Path) -> _Meta | None:
    try:
        return _Meta(**json.loads((folder / "meta.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _alive(meta: _Meta) -> bool:
    return _holder.start_time(meta.pid) == meta.ticks


def _exit_code(folder: Path) -> int | None:
    try:
        return int((folder / "exit").read_text().strip())
    except (OSError, ValueError):
        return None


def _folder(home: Path, process_id: str) -> Path:
    if not (process_id.startswith("proc_") and process_id[5:].isalnum() and len(process_id) < 40):
        raise _not_found(process_id)
    return home / "processes" / process_id


def _folders(root: Path) -> list[Path]:
    try:
        return [p for p in root.iterdir() if p.name.startswith("proc_")]
    except FileNotFoundError:
        return []  # (a folder made room for meanwhile simply reads as no process)


def _make_room(root: Path) -> None:
    """Under the lock: room for one more, made by removing the oldest ended processes. A folder
    with no record yet is a process being started: it counts as running."""
    folders = _folders(root)
    if len(folders) < MAX_PROCESSES:
        return
    ended = sorted(((info, folder) for folder in folders
                    if (info := _read(folder)) is not None and info.state != "running"),
                   key=lambda pair: pair[0].started_at)
    if len(folders) - len(ended) >= MAX_PROCESSES:
        raise errors.Conflict(
            f"The sandbox already runs {MAX_PROCESSES} background processes.",
            code="TOO_MANY_PROCESSES", fix="Stop one (DELETE /sandboxes/{id}/processes/{pid}).")
    for _, folder in ended[: len(folders) - MAX_PROCESSES + 1]:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _seconds(timeout: float | None) -> str:
    return "0" if timeout is None else str(max(1, round(timeout)))


def _not_found(process_id: str) -> errors.NotFound:
    return errors.NotFound(f"No process {process_id!r} in this sandbox.",
                           code="PROCESS_NOT_FOUND",
                           fix="List the sandbox's processes (GET /sandboxes/{id}/processes).")
