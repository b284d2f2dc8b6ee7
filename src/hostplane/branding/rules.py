"""What branding values may be: absolute https URLs (http only on loopback), hex colours, bounded
text, and custom CSS that can't load anything from elsewhere."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from hostplane import errors

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_CSS_BYTES = 50_000
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_URL_CALL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.S)
# What makes a browser fetch something, or run something, from inside a stylesheet.
_REMOTE = ("@import", "expression(", "javascript:", "-moz-binding", "behavior:", "image-set(",
           "src(", "</")


def url(value: str, field: str) -> str:
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
    if not host or not secure or parts.username or parts.password:
        raise errors.Invalid(f"{value!r} is not an absolute https URL.", field=field,
                             code="INVALID_URL",
                             rule="an absolute https:// URL (http:// only for localhost), "
                                  "without credentials",
                             fix="e.g. 'https://cliniciq.com/logo-dark.png'.")
    return value


def color(value: str, field: str) -> str:
    if not _COLOR.match(value):
        raise errors.Invalid(f"{value!r} is not a hex colour.", field=field,
                             code="INVALID_COLOR", rule="#rgb, #rgba, #rrggbb or #rrggbbaa",
                             fix="e.g. '#0F766E'.")
    return value.lower()


def email(value: str, field: str) -> str:
    if not _EMAIL.match(value):
        raise errors.Invalid(f"{value!r} is not an email address.", field=field,
                             code="INVALID_EMAIL", rule="name@domain",
                             fix="e.g. 'support@cliniciq.com'.")
    return value


def css(value: str, field: str) -> str:
    if len(value.encode()) > MAX_CSS_BYTES:
        raise errors.Invalid(f"custom_css is {len(value.encode())} bytes.", field=field,
                             code="CSS_TOO_LARGE", rule=f"at most {MAX_CSS_BYTES} bytes",
                             fix="Trim the stylesheet.")
    text = _COMMENT.sub("", value).lower()
    if "\\" in text:  # escapes could spell any of the words below
        raise _remote(field, "a backslash escape")
    for word in _REMOTE:
        if word in text:
            raise _remote(field, word)
    for _, target in _URL_CALL.findall(text):
        if not target.strip().startswith("data:"):
            raise _remote(field, f"url({target.strip()[:40]})")
    if "url(" in _URL_CALL.sub("", text):  # an unbalanced url( the pattern didn't take
        raise _remote(field, "url(")
    return value


def _remote(field: str, found: str) -> errors.Invalid:
    return errors.Invalid(f"custom_css can load or run content from elsewhere ({found}).",
                          field=field, code="CSS_LOADS_REMOTE_CONTENT",
                          rule="no @import, no escapes, and url() only with data: URIs",
                          fix="Inline images as data: URIs and host fonts with the platform.")
