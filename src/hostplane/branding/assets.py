"""Wallpaper and logo images: checked by their content (PNG or JPEG, at most 5 MB, dimensions read
with Pillow) and kept under the data dir, served back at a stable, content-addressed URL."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from hostplane import errors

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 2 * 3840 * 2160  # twice 4K: room for any real wallpaper, none for a bomb
RECOMMENDED = (1920, 1080)
FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg")}
_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg)$")
_TENANT = re.compile(r"^[0-9a-f-]{36}$")


@dataclass(frozen=True)
class CheckedImage:
    content_type: str
    extension: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    warnings: tuple[str, ...]


def check_image(data: bytes, kind: str, field: str = "file") -> CheckedImage:
    """A PNG or JPEG by its bytes (whatever its name or Content-Type says), at most 5 MB."""
    if len(data) > MAX_BYTES:
        raise errors.TooLarge(f"The {kind} is {len(data)} bytes.", code="ASSET_TOO_LARGE",
                              field=field, rule=f"at most {MAX_BYTES} bytes (5 MB)",
                              fix="Export it smaller, or as a JPEG.")
    try:
        with Image.open(BytesIO(data)) as image:  # reads the header only
            fmt, (width, height) = image.format, image.size
            if fmt not in FORMATS:
                raise _unsupported(kind, field, f"it is {fmt or 'an unknown format'}")
            if width * height > MAX_PIXELS:  # checked before a single pixel is decoded
                raise errors.Invalid(f"The {kind} is {width}×{height} pixels.",
                                     code="IMAGE_TOO_LARGE", field=field,
                                     rule=f"at most {MAX_PIXELS:,} pixels",
                                     fix="Scale it down; 1920×1080 is recommended for "
                                         "wallpapers.")
            image.load()  # decodes it all: a truncated or corrupt file fails here
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            SyntaxError):
        raise _unsupported(kind, field, "it is not an image Pillow can read whole") from None
    warnings = []
    if kind == "wallpaper" and (width, height) != RECOMMENDED:
        warnings.append(f"The wallpaper is {width}×{height}; 1920×1080 is recommended (it will "
                        "be scaled to fill the desktop).")
    content_type, extension = FORMATS[fmt]
    return CheckedImage(content_type, extension, width, height, len(data),
                        hashlib.sha256(data).hexdigest(), tuple(warnings))


def _unsupported(kind: str, field: str, why: str) -> errors.Invalid:
    return errors.Invalid(f"The {kind} must be a PNG or JPEG image: {why}.",
                          code="UNSUPPORTED_IMAGE", field=field,
                          rule="PNG or JPEG, recognised by content (not by name)",
                          fix="Export the image as PNG or JPEG.")


class AssetStore:
    """Files under `root/{tenant_id}/{sha256}.{ext}`; their URL is `{base_url}/assets/branding/
    {tenant_id}/{sha256}.{ext}` (the same bytes always get the same URL)."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root, self.base_url = root, base_url.rstrip("/")

    def save(self, tenant_id: str, image: CheckedImage, data: bytes) -> str:
        folder = self.root / tenant_id
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{image.sha256}.{image.extension}"
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, folder / name)  # whole or not at all
        return f"{self.base_url}/assets/branding/{tenant_id}/{name}"

    def path(self, tenant_id: str, name: str) -> Path | None:
        if not _TENANT.match(tenant_id) or not _NAME.match(name):
            return None
        found = self.root / tenant_id / name
        return found if found.is_file() else None

    def forget(self, tenant_id: str, url: str | None, keep: set[str]) -> None:
        """Delete the file behind one of our URLs, unless it is among `keep` (still used)."""
        if not url or url in keep or not url.startswith(f"{self.base_url}/assets/branding/"):
            return
        found = self.path(tenant_id, url.rsplit("/", 1)[-1])
        if found is not None:
            found.unlink(missing_ok=True)

    def remove_all(self, tenant_id: str) -> None:
        if _TENANT.match(tenant_id):
            shutil.rmtree(self.root / tenant_id, ignore_errors=True)
