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
