"""A deployment's files, served from the release store: content types, index.html for folders,
ETag / If-None-Match, a single byte Range, gzip where the client takes it, and (when the
deployment asks for it) a single-page-app fallback to index.html."""

from __future__ import annotations

import asyncio
import gzip
import os
import posixpath
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostplane.compute.releases import ReleaseStore, serving_entry
from hostplane.edge.offload import Offload

CHUNK = 64 * 1024
GZIP_MIN_BYTES = 1024
_COMPRESSIBLE = re.compile(r"^(text/|application/(javascript|json|xml|wasm|manifest\+json)|"
                           r"image/svg\+xml)")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True, slots=True)
class File:
    path: Path
    size: int
    content_type: str
    etag: str
    status: int = 200  # 404 for the site's own 404.html


def find(store: ReleaseStore, manifest: dict[str, Any], path: str, *,
         spa_fallback: bool) -> File | None:
    """The file a request path serves: the path itself, its folder's index.html, the SPA's
    index.html for a path that names no file (when asked for), or the site's 404.html."""
    wanted = posixpath.normpath("/" + path).lstrip("/")
    wanted = "" if wanted == "." else wanted
    entry = serving_entry(manifest, wanted)
    if entry is not None:
        return _file(store, entry)
    if spa_fallback and "." not in posixpath.basename(wanted) and "index.html" in manifest:
        return _file(store, manifest["index.html"])
    if "404.html" in manifest:
        return _file(store, manifest["404.html"], status=404)
    return None


def _file(store: ReleaseStore, entry: dict[str, Any], status: int = 200) -> File:
    sha = entry["sha256"]
    return File(store.blob(sha), int(entry["size"]), entry["content_type"], f'"{sha[:32]}"',
                status)


def compressible(file: File) -> bool:
    return file.size >= GZIP_MIN_BYTES and bool(_COMPRESSIBLE.match(file.content_type))


async def gzipped(file: File, offload: Offload) -> Path:
    """The gzip form of a blob, made once beside it (blobs never change), on the edge's file
    threads, once however many requests ask for it meanwhile."""
    target = file.path.with_name(file.path.name + ".gz")
    if not target.exists():
        await offload.once(("gzip", target), offload.files, _compress, file.path, target)
    return target


def _compress(source: Path, target: Path) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".gz-")
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as zipped:
            while block := src.read(CHUNK):
                zipped.write(block)
    os.replace(temp, target)


def byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(first, last) of a single satisfiable range; None to ignore the header (several ranges,
    or not bytes); False when it can't be satisfied (416)."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        return (max(size - length, 0), size - 1) if length and size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


async def chunks(path: Path, start: int = 0, length: int | None = None):  # type: ignore[no-untyped-def]
    """The file's bytes from `start`, `length` of them (all by default), in pieces."""
    with open(path, "rb") as handle:
        handle.seek(start)
        left = length if length is not None else os.fstat(handle.fileno()).st_size - start
        while left > 0:
            block = await asyncio.to_thread(handle.read, min(CHUNK, left)) if left > CHUNK \
                else handle.read(left)
            if not block:
                break
            left -= len(block)
            yield block


# The fast path's files (edge/fast.py)

HOT_MAX_BYTES = 256 * 1024  # larger files stream through the ASGI app
HOT_CACHE_BYTES = 64 * 1024 * 1024  # file bytes kept in memory per process, across versions
_COMMON = (b"accept-ranges: bytes\r\ncache-control: public, max-age=0, must-revalidate\r\n"
           b"x-content-type-options: nosniff\r\n")


class HotFile:
    """What a GET of one path of one version answers, ready as bytes: a version's files never
    change (blobs are named by their SHA-256), so nothing here goes stale."""

    __slots__ = ("status", "etag", "gzip_tag", "head", "body", "gzipped", "size")

    def __init__(self, found: File, body: bytes, gzipped: bytes | None) -> None:
        self.status, self.body, self.gzipped = found.status, body, gzipped
        self.etag = found.etag.encode()
        self.gzip_tag = self.etag[:-1] + b'-gz"'
        self.head = b"content-type: %s\r\n" % found.content_type.encode()
        self.size = len(body) + len(gzipped or b"")


class HotFiles:
    """Files answered by the fast path: a GET without Range of a file of at most HOT_MAX_BYTES
    in a version whose manifest is cached, its bytes (and its gzip form, once made) held in
    memory, least recently used first out beyond HOT_CACHE_BYTES. Anything else (the first
    request of a version, a Range, a gzip form not made yet, a large file, a path with
    percent-escapes) is the ASGI app's, which answers as always (edge/app.py `_Reply.file`)."""

    def __init__(self, store: ReleaseStore, manifests: dict[str, dict[str, Any]]) -> None:
        self.store, self.manifests = store, manifests
        self._files: dict[tuple[str, bytes, bool], HotFile | None] = {}
        self._bytes = 0

    def find(self, version_id: str, path: bytes, spa_fallback: bool) -> HotFile | None:
        key = (version_id, path, spa_fallback)
        try:
            return self._files[key]
        except KeyError:
            pass
        manifest = self.manifests.get(version_id)
        if manifest is None or b"%" in path:
            return None  # not cached as None: the ASGI app caches the manifest
        hot = self._load(manifest, path.decode("ascii"), spa_fallback)
        while self._files and self._bytes + (hot.size if hot else 0) > HOT_CACHE_BYTES:
            dropped = self._files.pop(next(iter(self._files)))
            self._bytes -= dropped.size if dropped else 0
        if hot is not None or len(self._files) < 100_000:
            self._files[key] = hot
            self._bytes += hot.size if hot else 0
        return hot

    def _load(self, manifest: dict[str, Any], path: str, spa_fallback: bool) -> HotFile | None:
        found = find(self.store, manifest, path, spa_fallback=spa_fallback)
        if found is None or found.size > HOT_MAX_BYTES:
            return None
        gz = None
        if compressible(found):
            target = found.path.with_name(found.path.name + ".gz")
            if not target.exists():
                return None  # made by the ASGI app's first answer, then hot
            gz = target.read_bytes()
        body = found.path.read_bytes()
        return HotFile(found, body, gz) if len(body) == found.size else None

    def answer(self, hot: HotFile, if_none_match: bytes | None, accept_encoding: bytes | None,
               date: bytes) -> bytes:
        """The whole response to a GET, as `_Reply.file` answers it."""
        etag = hot.etag
        if if_none_match is not None and hot.status == 200:
            sent = {tag.strip() for tag in if_none_match.split(b",")}
            if etag in sent or hot.gzip_tag in sent:
                tag = hot.gzip_tag if hot.gzip_tag in sent else etag
                return b"".join((b"HTTP/1.1 304 Not Modified\r\n", hot.head, b"etag: ", tag,
                                 b"\r\n", _COMMON, date, b"\r\n"))
        body, extra = hot.body, b""
        if hot.gzipped is not None:
            extra = b"vary: accept-encoding\r\n"
            if accept_encoding is not None and b"gzip" in accept_encoding:
                body, etag = hot.gzipped, hot.gzip_tag
                extra += b"content-encoding: gzip\r\n"
        status = b"HTTP/1.1 200 OK\r\n" if hot.status == 200 else b"HTTP/1.1 404 Not Found\r\n"
        return b"".join((status, hot.head, b"etag: ", etag, b"\r\n", _COMMON, date, extra,
                         b"content-length: %d\r\n\r\n" % len(body), body))
