"""A sandbox's files as the API reads and writes them: from a descriptor of its workspace (see
LocalDriver._open_workspace), one directory descriptor at a time, so no path or link can lead
outside it."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from hostplane import errors
from hostplane.compute import _paths
from hostplane.compute.port import FileEntry

MAX_LIST_DEPTH = 10
MAX_LIST_ENTRIES = 10_000


class SandboxFiles:
    """File operations of the local driver (mixed into LocalDriver, which provides _workspace,
    _touch, _open_workspace and _owner)."""

    def _workspace(self, sandbox_id: str) -> Path:
        raise NotImplementedError

    def _touch(self, sandbox_id: str) -> None:
        raise NotImplementedError

    def _open_workspace(self, sandbox_id: str) -> int:
        raise NotImplementedError

    def _owner(self, sandbox_id: str) -> int | None:
        raise NotImplementedError

    def write_file(self, sandbox_id: str, path: str, data: bytes) -> FileEntry:
        # What the API writes is the sandbox's, as if a command of it had written it.
        owner = self._owner(sandbox_id) if self._workspace(sandbox_id).is_dir() else None
        with self._resolve(sandbox_id, path, create_dirs=True, owner=owner) as found:
            if found.name is None:
                raise _paths.is_a_directory(path, "path")
            info = _write_atomic(found.dir_fd, found.name, bytes(data), path, owner)
            return _paths.entry(found.parts, info)

    def read_file(self, sandbox_id: str, path: str, *, max_bytes: int) -> bytes:
        if max_bytes < 0:
            raise errors.Invalid(
                "max_bytes must not be negative.", field="max_bytes", rule="max_bytes >= 0",
                fix="pass the largest size you are ready to receive",
            )  # fmt: skip
        with self._resolve(sandbox_id, path) as found:
            if found.name is None:
                raise _paths.is_a_directory(path, "path")
            fd = _open_regular(found.dir_fd, found.name, path)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise errors.TooLarge(
                f"{path!r} is larger than the {max_bytes} bytes asked for.",
                code="FILE_TOO_LARGE",
                field="path",
                rule=f"files are read whole, up to max_bytes ({max_bytes})",
                fix="raise max_bytes, or read a part of it with exec (e.g. head -c)",
            )
        return data

    def list_files(self, sandbox_id: str, path: str, *, depth: int = 1) -> list[FileEntry]:
        if depth < 1:
            raise errors.Invalid(
                "depth must be at least 1.", field="depth", rule="1 <= depth",
                fix="pass depth=1 for the directory's own entries",
            )  # fmt: skip
        with self._resolve(sandbox_id, path) as found:
            if found.name is None:
                return _paths.walk_tree(
                    found.dir_fd, (), min(depth, MAX_LIST_DEPTH), MAX_LIST_ENTRIES
                )
            info = _paths.lstat(found.dir_fd, found.name)
            if info is None:
                raise _paths.not_found(path, "path")
            if not stat.S_ISDIR(info.st_mode):
                raise _paths.not_a_directory(path, "path")
            try:
                fd = _paths.open_dir(found.dir_fd, found.name)
            except FileNotFoundError:
                raise _paths.not_found(path, "path") from None
            except Exception:
                raise _paths.outside(path, "path") from None  # swapped for a link meanwhile
        try:
            return _paths.walk_tree(fd, found.parts, min(depth, MAX_LIST_DEPTH), MAX_LIST_ENTRIES)
        finally:
            os.close(fd)

    def stat(self, sandbox_id: str, path: str) -> FileEntry:
        with self._resolve(sandbox_id, path) as found:
            if found.name is None:
                return _paths.entry((), os.fstat(found.dir_fd))
            info = _paths.lstat(found.dir_fd, found.name)
            if info is None:
                raise _paths.not_found(path, "path")
            return _paths.entry(found.parts, info)

    @contextlib.contextmanager
    def _resolve(
        self, sandbox_id: str, path: str, *, field: str = "path", create_dirs: bool = False,
        owner: int | None = None,
    ) -> Iterator[_paths.Resolved]:
        parts = _paths.parse(path, field)
        workspace = self._workspace(sandbox_id)
        self._touch(sandbox_id)
        try:
            root_fd = self._open_workspace(sandbox_id)
        except OSError as exc:
            reason = f"its workspace cannot be opened ({exc.strerror})"
            raise not_running(sandbox_id, reason) from None
        host_roots = tuple({os.path.normpath(workspace), os.path.realpath(workspace)})
        try:
            with _paths.resolve(
                root_fd, parts, host_roots=host_roots, shown=path, field=field,
                create_dirs=create_dirs, owner=owner,
            ) as found:  # fmt: skip
                yield found
        finally:
            os.close(root_fd)


def disk_full(shown: str) -> errors.TooLarge:
    return errors.TooLarge(
        f"{shown!r} does not fit: the sandbox's disk is full.", code="SANDBOX_DISK_FULL",
        field="content", rule="a sandbox's files fit in its disk_mb",
        fix="remove files in the sandbox, or create a sandbox with a larger disk_mb")


def not_running(sandbox_id: str, reason: str) -> errors.Conflict:
    return errors.Conflict(
        f"Sandbox {sandbox_id} is not running on this machine: {reason}.",
        code="SANDBOX_NOT_RUNNING",
        fix="check the sandbox's status and start it again",
    )


def _open_regular(dir_fd: int, name: str, shown: str) -> int:
    # O_NONBLOCK: a FIFO made in the workspace must not hang the API; regular files ignore it.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _paths.not_found(shown, "path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a link since it was resolved
            raise _paths.outside(shown, "path") from None
        if exc.errno == errno.ENXIO:  # a socket
            raise _not_regular(shown) from None
        raise errors.Conflict(f"{shown!r} cannot be read: {exc.strerror}.", code="FILE_UNREADABLE",
                              field="path", fix="Check the file's permissions.") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return fd
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise _paths.is_a_directory(shown, "path")
    raise _not_regular(shown)


def _not_regular(shown: str) -> errors.Invalid:
    return errors.Invalid(
        f"{shown!r} is not a regular file.",
        code="NOT_A_REGULAR_FILE",
        field="path",
        rule="only regular files can be read",
        fix="read a regular file",
    )


def _write_atomic(dir_fd: int, name: str, data: bytes, shown: str,
                  owner: int | None) -> os.stat_result:
    existing = _paths.lstat(dir_fd, name)
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise _paths.is_a_directory(shown, "path")
    keep_mode = existing is not None and stat.S_ISREG(existing.st_mode)
    mode = stat.S_IMODE(existing.st_mode) if keep_mode else 0o644  # type: ignore[union-attr]
    # The leading dot and random suffix keep the temporary name off anything a user would pick.
    temp = f".hostplane-{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            if owner is not None:
                os.fchown(handle.fileno(), owner, owner)
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        # Atomic for readers; without fsync a crash may lose the write, which a sandbox can redo.
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dir_fd)
        if isinstance(exc, IsADirectoryError):
            raise _paths.is_a_directory(shown, "path") from None
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full(shown) from None
        raise
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    return info
