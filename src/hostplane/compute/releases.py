"""Deployment releases: immutable, content-addressed sets of files. Each file is a blob named by
its SHA-256 under `root/blobs/`; a version is a manifest {path: {sha256, size, content_type}}
whose own digest names it. Archives are read member by member into blobs (never extracted onto
disk), so a path can't escape, and links, devices and bombs are refused by rule."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import mimetypes
import os
import posixpath
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostplane import errors

MAX_FILES = 10_000
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # unpacked, all files together
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024  # the upload itself
FIELD = "archive"


@dataclass(frozen=True)
class Release:
    manifest: dict[str, dict[str, Any]]  # path → {sha256, size, content_type}
    digest: str
    total_bytes: int


class ReleaseStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    def add(self, files: Iterable[tuple[str, bytes]]) -> Release:
        """Store files (paths relative to the site's root) and answer their release."""
        manifest: dict[str, dict[str, Any]] = {}
        total = 0
        for raw_path, data in files:
            path = clean_path(raw_path)
            total += len(data)
            if len(manifest) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                raise too_big(len(manifest) + 1, total)
            manifest[path] = {"sha256": self._put(data), "size": len(data),
                              "content_type": content_type(path)}
        if not manifest:
            raise errors.Invalid("The build has no files.", code="EMPTY_RELEASE", field=FIELD,
                                 rule="at least one file", fix="Publish the folder your build "
                                 "writes (e.g. /workspace/dist).")
        listing = json.dumps(sorted((p, f["sha256"]) for p, f in manifest.items()))
        return Release(manifest, hashlib.sha256(listing.encode()).hexdigest(), total)

    def add_archive(self, data: bytes) -> Release:
        """A .tar.gz (or .tar) build: regular files and folders only."""
        if len(data) > MAX_ARCHIVE_BYTES:
            raise errors.TooLarge(f"The archive is {len(data)} bytes.", code="ARCHIVE_TOO_LARGE",
                                  field=FIELD, rule=f"at most {MAX_ARCHIVE_BYTES} bytes",
                                  fix="Leave source maps and dependencies out of the build.")
        raw: Any = io.BytesIO(data)
        if data[:2] == b"\x1f\x8b":  # gzip: decompressed through the limit below
            raw = gzip.GzipFile(fileobj=raw)
        # Streaming mode, through a reader that stops at the unpacked limit: tar headers
        # (long names, pax records) count too, so no header can make this read more.
        limited = _Limited(raw, MAX_TOTAL_BYTES + 1024 * 1024)
        try:
            archive = tarfile.open(fileobj=limited, mode="r|")
        except _TooMuch:
            raise too_big(0, MAX_TOTAL_BYTES + 1) from None
        except (tarfile.TarError, EOFError, OSError, zlib.error, RecursionError):
            raise bad_archive("it is not a tar or tar.gz archive") from None
        return self.add(_members(archive))

    def open(self, manifest: dict[str, dict[str, Any]], path: str) -> tuple[Path, str] | None:
        """The blob serving `path` (a folder serves its index.html), and its content type."""
        entry = serving_entry(manifest, path)
        return None if entry is None else (self.blob(entry["sha256"]), entry["content_type"])

    def _put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        blob = self.blob(sha)
        if not blob.exists():
            blob.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=blob.parent, prefix=".blob-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp, blob)  # whole or not at all; the same bytes, whoever wins
        return sha

    def blob(self, sha: str) -> Path:
        """Where the file with this SHA-256 is kept."""
        return self.root / "blobs" / sha[:2] / sha


def _members(archive: tarfile.TarFile) -> Iterable[tuple[str, bytes]]:
    total, count = 0, 0
    with archive:
        while True:
            try:
                member = archive.next()
            except _TooMuch:
                raise too_big(count, total) from None
            except (tarfile.TarError, EOFError, OSError, zlib.error, RecursionError,
                    UnicodeError):
                raise bad_archive("it is truncated or corrupt") from None
            if member is None:
                return
            count += 1
            if count > MAX_FILES:
                raise too_big(count, total)
            if member.isdir():
                clean_path(member.name, allow_root=True)
                continue
            if not member.isreg():
                kind = ("a link" if member.issym() or member.islnk() else
                        "a device or special file")
                raise bad_archive(f"{member.name!r} is {kind}; a build holds regular files only")
            total += member.size
            if total > MAX_TOTAL_BYTES:
                raise too_big(count, total)
            source = archive.extractfile(member)
            assert source is not None
            try:
                data = source.read(member.size)
            except _TooMuch:
                raise too_big(count, total) from None
            except (tarfile.TarError, EOFError, OSError, zlib.error):
                raise bad_archive("it is truncated or corrupt") from None
            if len(data) != member.size:
                raise bad_archive(f"{member.name[:200]!r} is not the size its header says")
            yield member.name, data


MAX_PATH, MAX_NAME = 1024, 255


def clean_path(raw: str, *, allow_root: bool = False) -> str:
    """A file's path inside the site: relative, no `..`, no empty or dot parts, printable UTF-8,
    at most 1024 characters (255 per name)."""
    path = raw.replace("\\", "/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or ".." in parts or (not parts and not allow_root):
        raise bad_archive(f"{raw[:200]!r} would land outside the site's folder")
    if len(path) > MAX_PATH or any(len(p) > MAX_NAME for p in parts):
        raise bad_archive(f"{raw[:200]!r}… is a longer path than {MAX_PATH} characters "
                          f"({MAX_NAME} per name)")
    try:
        path.encode("utf-8")
    except UnicodeError:
        raise bad_archive(f"{raw[:200]!r} is not a UTF-8 name") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise bad_archive(f"{raw[:200]!r} has control characters")
    return "/".join(parts)


class _TooMuch(Exception):
    pass


class _Limited(io.RawIOBase):
    """Reads from `source`, and raises once more than `limit` bytes have been read."""

    def __init__(self, source: Any, limit: int) -> None:
        self.source, self.left = source, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size is not None and size >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise _TooMuch
        return data


def serving_entry(manifest: dict[str, dict[str, Any]], path: str) -> dict[str, Any] | None:
    """The manifest entry that serves `path`: the file itself, or a folder's index.html."""
    wanted = path.strip("/")
    for candidate in (wanted, posixpath.join(wanted, "index.html") if wanted else "index.html"):
        entry = manifest.get(candidate)
        if entry is not None:
            return entry
    return None


def content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    if guessed in (None, "application/octet-stream") and path.endswith(".js"):
        return "text/javascript"
    return guessed or "application/octet-stream"


def bad_archive(why: str) -> errors.Invalid:
    return errors.Invalid(f"The build can't be published: {why}.", code="UNSAFE_ARCHIVE",
                          field=FIELD, rule="a tar or tar.gz of regular files and folders, with "
                          "relative paths inside the site", fix="Build again with plain files "
                          "(tar -h follows links).")


def too_big(count: int, total: int) -> errors.Invalid:
    return errors.Invalid(f"The build is too big ({count} files, {total} bytes so far).",
                          code="RELEASE_TOO_LARGE", field=FIELD,
                          rule=f"at most {MAX_FILES} files and {MAX_TOTAL_BYTES} bytes unpacked",
                          fix="Leave source maps and dependencies out of the build.")
