"""Sandbox path resolution: API paths to files inside one workspace, never outside it."""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hostplane import errors
from hostplane.compute.port import WORKSPACE, FileEntry

# The kernel's own limit on links followed in one lookup; past it the path is a loop.
MAX_SYMLINKS = 40
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NAME_MAX = 255
_PATH_MAX = 4096


def outside(path: str, field: str) -> errors.Invalid:
    return errors.Invalid(
        f"{field} {path!r} leads outside {WORKSPACE}; a sandbox can only reach its own workspace.",
        code="PATH_OUTSIDE_WORKSPACE",
        field=field,
        rule=f"paths must stay inside {WORKSPACE}",
        fix=f"give a path under {WORKSPACE} (or relative to it) with no NUL byte, no '..' "
        "climbing out of it and no symlink leading out of it",
    )


def not_found(path: str, field: str) -> errors.NotFound:
    return errors.NotFound(
        f"{field} {path!r} does not exist in the sandbox.",
        code="FILE_NOT_FOUND",
        field=field,
        fix="list the parent directory to see what is there, or write the file first",
    )


def not_a_directory(path: str, field: str) -> errors.Invalid:
    return errors.Invalid(
        f"{field} {path!r} goes through a file as if it were a directory.",
        code="NOT_A_DIRECTORY",
        field=field,
        rule="every component but the last must be a directory",
        fix="check the path with a stat or a list of its parent",
    )


def is_a_directory(path: str, field: str) -> errors.Invalid:
    return errors.Invalid(
        f"{field} {path!r} is a directory, not a file.",
        code="IS_A_DIRECTORY",
        field=field,
        rule="this operation needs a regular file",
        fix="list the directory instead, or name a file inside it",
    )


def parse(path: str, field: str = "path") -> tuple[str, ...]:
    """The components of `path` below /workspace, with '.' and '..' folded away lexically."""
    if "\0" in path:
        raise outside(path, field)
    joined = path if path.startswith("/") else posixpath.join(WORKSPACE, path)
    norm = posixpath.normpath(joined)
    if norm.startswith("//"):  # POSIX lets normpath keep a leading '//'; it means '/' here.
        norm = "/" + norm.lstrip("/")
    if norm == WORKSPACE:
        return ()
    if not norm.startswith(WORKSPACE + "/"):
        raise outside(path, field)
    parts = tuple(norm[len(WORKSPACE) + 1 :].split("/"))
    if len(norm.encode(errors="surrogateescape")) > _PATH_MAX or any(
        len(p.encode(errors="surrogateescape")) > _NAME_MAX for p in parts
    ):
        raise errors.Invalid(
            f"{field} is longer than the filesystem allows.",
            code="PATH_TOO_LONG",
            field=field,
            rule=f"at most {_NAME_MAX} bytes per name and {_PATH_MAX} bytes in all",
            fix="use shorter names",
        )
    return parts


def view(parts: tuple[str, ...]) -> str:
    """The path as the sandbox sees it."""
    return posixpath.join(WORKSPACE, *parts) if parts else WORKSPACE


def entry(parts: tuple[str, ...], info: os.stat_result) -> FileEntry:
    is_dir = stat.S_ISDIR(info.st_mode)
    return FileEntry(
        name=parts[-1] if parts else posixpath.basename(WORKSPACE),
        path=view(parts),
        size=0 if is_dir else info.st_size,
        is_dir=is_dir,
        modified_at=info.st_mtime,
    )


@dataclass(frozen=True)
class Resolved:
    """An open parent directory and the last name in it (None for the workspace itself)."""

    dir_fd: int
    name: str | None
    parts: tuple[str, ...]  # after following the symlinks that stay inside

    @property
    def view(self) -> str:
        return view(self.parts)


class _Link(Exception):
    def __init__(self, at: int, target: str) -> None:
        self.at = at
        self.target = target


@contextmanager
def resolve(
    root_fd: int,
    parts: tuple[str, ...],
    *,
    host_roots: tuple[str, ...],
    shown: str,
    field: str = "path",
    create_dirs: bool = False,
    owner: int | None = None,
) -> Iterator[Resolved]:
    """Open the parent of `parts` one component at a time, never letting the kernel follow a link.

    A symlink is read and its target judged by us: inside the workspace (as /workspace/..., as the
    host path in `host_roots`, or relative) it is followed, otherwise refused. Opening each step
    with O_NOFOLLOW relative to the previous one means a link swapped in by a running command
    between our check and our use cannot lead us out. Directories made on the way (create_dirs)
    belong to `owner`.
    """
    for _ in range(MAX_SYMLINKS + 1):
        try:
            fd = _walk(root_fd, parts, create_dirs, owner)
        except _Link as link:
            parts = _expand(parts, link, host_roots, shown, field)
            continue
        except FileNotFoundError:
            raise not_found(shown, field) from None
        except NotADirectoryError:
            raise not_a_directory(shown, field) from None
        try:
            yield Resolved(fd, parts[-1] if parts else None, parts)
        finally:
            os.close(fd)
        return
    raise errors.Invalid(
        f"{field} {shown!r} goes through more than {MAX_SYMLINKS} symlinks.",
        code="TOO_MANY_SYMLINKS",
        field=field,
        rule=f"at most {MAX_SYMLINKS} symlinks are followed",
        fix="remove the symlink loop",
    )


def _walk(root_fd: int, parts: tuple[str, ...], create_dirs: bool, owner: int | None) -> int:
    fd = os.dup(root_fd)
    try:
        for at, name in enumerate(parts[:-1]):
            next_fd = open_dir(fd, name, at, create_dirs, owner)
            os.close(fd)
            fd = next_fd
        if parts:
            info = lstat(fd, parts[-1])
            if info is not None and stat.S_ISLNK(info.st_mode):
                raise _Link(len(parts) - 1, os.readlink(parts[-1], dir_fd=fd))
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_dir(fd: int, name: str, at: int = 0, create: bool = False,
             owner: int | None = None) -> int:
    """The subdirectory `name` of `fd` (made, and given to `owner`, if `create`); raises _Link
    when it is a symlink."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, 0o755, dir_fd=fd)
        except FileExistsError:
            pass  # a concurrent writer made it; the open below still refuses a link
        made = open_dir(fd, name, at, create=False)
        if owner is not None:
            os.fchown(made, owner, owner)
        return made
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        info = lstat(fd, name)
        if info is not None and stat.S_ISLNK(info.st_mode):
            raise _Link(at, os.readlink(name, dir_fd=fd)) from None
        raise NotADirectoryError(name) from None


def lstat(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _expand(
    parts: tuple[str, ...], link: _Link, host_roots: tuple[str, ...], shown: str, field: str
) -> tuple[str, ...]:
    """`parts` with the link at `link.at` replaced by its target, if that stays inside."""
    if link.target.startswith("/"):
        target = posixpath.normpath(link.target)
        # A command without bubblewrap sees the workspace at its host path, so links it makes
        # name that path; the same file is inside either way.
        for root in (WORKSPACE, *host_roots):
            if target == root or target.startswith(root + "/"):
                inner = target[len(root) :]
                break
        else:
            raise outside(shown, field)
    else:
        target = posixpath.normpath(posixpath.join(WORKSPACE, *parts[: link.at], link.target))
        if not (target == WORKSPACE or target.startswith(WORKSPACE + "/")):
            raise outside(shown, field)
        inner = target[len(WORKSPACE) :]
    return tuple(p for p in inner.split("/") if p) + parts[link.at + 1 :]


def walk_tree(dir_fd: int, parts: tuple[str, ...], depth: int, limit: int) -> list[FileEntry]:
    """Entries below an open directory down to `depth` levels, at most `limit`, never via links."""
    found: list[FileEntry] = []

    def visit(fd: int, prefix: tuple[str, ...], level: int) -> None:
        with os.scandir(fd) as listing:
            children = sorted(listing, key=lambda child: child.name)
        for child in children:
            if len(found) >= limit:
                return
            try:
                info = child.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we listed
            found.append(entry((*prefix, child.name), info))
            if level < depth and stat.S_ISDIR(info.st_mode):
                try:
                    sub = os.open(child.name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # removed, or swapped for a link, while we listed
                try:
                    visit(sub, (*prefix, child.name), level + 1)
                finally:
                    os.close(sub)

    visit(dir_fd, parts, 1)
    return sorted(found, key=lambda e: e.path)
