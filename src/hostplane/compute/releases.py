"""Deployment releases: immutable, content-addressed sets of files. Each file is a blob named by
its SHA-256 under `root/blobs/`; a version is a manifest {path: {sha256, size, content_type}}
whose own digest names it. Archives are read member by member, a piece at a time, into blobs
(never extracted onto disk), so a path can't escape, links, devices and bombs are refused by
rule, and an upload holds a few pieces of memory however much it unpacks to."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import mimetypes
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from hostplane import errors

MAX_FILES = 10_000
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # unpacked, all files together
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024  # the upload itself
# A gzip stream can unpack to ~1000 times its size; real builds (text, images, fonts) reach a
# few times, at most tens. Past this ratio (and past the floor, so a tiny site of padding still
# goes) the archive is refused as a bomb, from its tar headers, before its data is unpacked.
MAX_RATIO = 100
RATIO_FLOOR = 16 * 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 64 * 1024  # what one upload holds in memory at a time, whatever it unpacks to
FIELD = "archive"


@dataclass(frozen=True)
class Release:
    manifest: dict[str, dict[str, Any]]  # path → {sha256, size, content_type}
    digest: str
    total_bytes: int


@dataclass(frozen=True)
class Room:
    """How many more bytes the uploader may keep, and the refusal past that."""

    bytes: int
    refusal: Callable[[int], errors.HostplaneError]  # given the bytes it would come to


class ReleaseStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.collected_at = 0.0  # when `collect` last ran (the worker's job)

    def add(self, files: Iterable[tuple[str, bytes]], room: Room | None = None) -> Release:
        """Store files (paths relative to the site's root) and answer their release."""
        with self._staging(room, None) as stage:
            for path, data in files:
                stage.expect(len(data))
                stage.put(path, [data])
            return stage.commit()

    def add_archive(self, source: BinaryIO, room: Room | None = None) -> Release:
        """A .tar.gz (or .tar) build, read from `source` (a file) a piece at a time: regular
        files and folders only."""
        packed = os.fstat(source.fileno()).st_size
        if packed > MAX_ARCHIVE_BYTES:
            raise errors.TooLarge(f"The archive is {packed} bytes.", code="ARCHIVE_TOO_LARGE",
                                  field=FIELD, rule=f"at most {MAX_ARCHIVE_BYTES} bytes",
                                  fix="Leave source maps and dependencies out of the build.")
        raw: Any = source
        if source.read(2) == b"\x1f\x8b":  # gzip: decompressed through the limit below
            raw = gzip.GzipFile(fileobj=source)
        source.seek(0)
        with self._staging(room, packed) as stage:
            # Streaming mode, through a reader that stops past the unpacked limit: tar headers
            # (long names, pax records) count too, so no header can make this read more.
            limited = _Limited(raw, stage.cap + 1024 * 1024)
            try:
                archive = tarfile.open(fileobj=limited, mode="r|")
            except _TooMuch:
                raise stage.refusal(stage.cap + 1) from None
            except (tarfile.TarError, EOFError, OSError, zlib.error, RecursionError):
                raise bad_archive("it is not a tar or tar.gz archive") from None
            _unpack(archive, stage)
            return stage.commit()

    @contextmanager
    def spool(self) -> Iterator[BinaryIO]:
        """An unnamed file beside the blobs for an upload to arrive in (gone when closed)."""
        folder = self.root / "staging"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as file:
            yield file

    @contextmanager
    def _staging(self, room: Room | None, packed: int | None) -> Iterator[_Stage]:
        """Files go to a folder of their own first and join the blobs only when the whole
        release is good: a refused upload leaves nothing behind."""
        folder = self.root / "staging"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stage = _Stage(self, Path(tempfile.mkdtemp(dir=folder, prefix="release-")), room, packed)
        try:
            yield stage
        finally:
            shutil.rmtree(stage.folder, ignore_errors=True)

    def forget(self, shas: Iterable[str]) -> None:
        """Delete these files (ones no version keeps any more)."""
        for sha in shas:
            if _SHA.match(sha):
                self.blob(sha).unlink(missing_ok=True)

    def collect(self, keep: Collection[str], *, older_than: float) -> int:
        """Delete the files not in `keep`, and what uploads that died left in staging, if
        written before `older_than` (POSIX seconds): a younger one may belong to an upload whose
        version is about to commit. Answers how many went."""
        gone = 0
        for path in [*(self.root / "blobs").glob("??/*"), *(self.root / "staging").glob("*")]:
            try:
                if path.name in keep or path.stat().st_mtime >= older_than:
                    continue
            except FileNotFoundError:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            gone += 1
        return gone

    def open(self, manifest: dict[str, dict[str, Any]], path: str) -> tuple[Path, str] | None:
        """The blob serving `path` (a folder serves its index.html), and its content type."""
        entry = serving_entry(manifest, path)
        return None if entry is None else (self.blob(entry["sha256"]), entry["content_type"])

    def blob(self, sha: str) -> Path:
        """Where the file with this SHA-256 is kept."""
        return self.root / "blobs" / sha[:2] / sha


class _Stage:
    """One release being written: its manifest, the bytes it has come to, and its limits."""

    def __init__(self, store: ReleaseStore, folder: Path, room: Room | None,
                 packed: int | None) -> None:
        self.store, self.folder = store, folder
        self.manifest: dict[str, dict[str, Any]] = {}
        self.total = 0
        # Every limit, as (bytes, the refusal past it); the smallest is the one that bites.
        limits = [(MAX_TOTAL_BYTES, lambda n: too_big(len(self.manifest) + 1, n))]
        if packed is not None:
            limits.append((max(RATIO_FLOOR, MAX_RATIO * packed), lambda n: bomb(packed, n)))
        if room is not None:
            limits.append((room.bytes, room.refusal))
        self.cap, self.refusal = min(limits, key=lambda limit: limit[0])

    def expect(self, size: int) -> None:
        """Count a file's size, as its header says, before a byte of it is read."""
        self.total += size
        if self.total > self.cap:
            raise self.refusal(self.total)

    def put(self, raw_path: str, chunks: Iterable[bytes]) -> None:
        path = clean_path(raw_path)
        if len(self.manifest) >= MAX_FILES:
            raise too_big(len(self.manifest) + 1, self.total)
        digest, size = hashlib.sha256(), 0
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".file-")
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        os.replace(temp, self.folder / sha)
        self.manifest[path] = {"sha256": sha, "size": size, "content_type": content_type(path)}

    def commit(self) -> Release:
        if not self.manifest:
            raise errors.Invalid("The build has no files.", code="EMPTY_RELEASE", field=FIELD,
                                 rule="at least one file", fix="Publish the folder your build "
                                 "writes (e.g. /workspace/dist).")
        for sha in {entry["sha256"] for entry in self.manifest.values()}:
            blob = self.store.blob(sha)
            blob.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(self.folder / sha, blob)  # whole or not at all; the same bytes always
        listing = json.dumps(sorted((p, f["sha256"]) for p, f in self.manifest.items()))
        total = sum(entry["size"] for entry in self.manifest.values())
        return Release(self.manifest, hashlib.sha256(listing.encode()).hexdigest(), total)


def _unpack(archive: tarfile.TarFile, stage: _Stage) -> None:
    count = 0
    with archive:
        while True:
            try:
                member = archive.next()
            except _TooMuch:
                raise stage.refusal(stage.cap + 1) from None
            except (tarfile.TarError, EOFError, OSError, zlib.error, RecursionError,
                    UnicodeError):
                raise bad_archive("it is truncated or corrupt") from None
            if member is None:
                return
            count += 1
            if count > MAX_FILES:
                raise too_big(count, stage.total)
            if member.isdir():
                clean_path(member.name, allow_root=True)
                continue
            if not member.isreg():
                kind = ("a link" if member.issym() or member.islnk() else
                        "a device or special file")
                raise bad_archive(f"{member.name!r} is {kind}; a build holds regular files only")
            stage.expect(member.size)
            source = archive.extractfile(member)
            assert source is not None
            stage.put(member.name, _chunks(source, member, stage))


def _chunks(source: BinaryIO, member: tarfile.TarInfo, stage: _Stage) -> Iterator[bytes]:
    left = member.size
    while left:
        try:
            chunk = source.read(min(CHUNK, left))
        except _TooMuch:
            raise stage.refusal(stage.cap + 1) from None
        except (tarfile.TarError, EOFError, OSError, zlib.error):
            raise bad_archive("it is truncated or corrupt") from None
        if not chunk:
            raise bad_archive(f"{member.name[:200]!r} is not the size its header says")
        left -= len(chunk)
        yield chunk


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


def bomb(packed: int, unpacked: int) -> errors.Invalid:
    return errors.Invalid(
        f"The archive ({packed} bytes) unpacks to {unpacked} bytes or more: it is refused as a "
        "decompression bomb.", code="ARCHIVE_BOMB", field=FIELD,
        rule=f"unpacked at most {MAX_RATIO} times the archive's size (any archive may unpack to "
             f"{RATIO_FLOOR} bytes)",
        fix="Leave out files that compress this well (zero-filled or repeated data): a real "
            "build compresses far less.")


def too_big(count: int, total: int) -> errors.Invalid:
    return errors.Invalid(f"The build is too big ({count} files, {total} bytes so far).",
                          code="RELEASE_TOO_LARGE", field=FIELD,
                          rule=f"at most {MAX_FILES} files and {MAX_TOTAL_BYTES} bytes unpacked",
                          fix="Leave source maps and dependencies out of the build.")
