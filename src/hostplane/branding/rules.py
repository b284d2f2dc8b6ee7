"""What branding values may be: absolute https URLs (http only on loopback), hex colours, bounded
text, and custom CSS that can't load anything from elsewhere."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import tinycss2

from hostplane import errors

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_CSS_BYTES = 50_000
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def url(value: str, field: str) -> str:
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        secure = False
    controls = any(ord(c) < 33 or ord(c) == 127 for c in value)
    if not host or not secure or parts.username or parts.password or controls:
        raise errors.Invalid(f"{value!r} is not an absolute https URL.", field=field,
                             code="INVALID_URL",
                             rule="an absolute https:// URL (http:// only for localhost), "
                                  "without credentials, spaces or control characters",
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
    """Tokenized as a browser does (tinycss2), so comments, strings and escapes can't hide a
    url(): every url is a data: URI, there is no @import, no expression(), and nothing that
    would end the <style> element it is put in."""
    if len(value.encode()) > MAX_CSS_BYTES:
        raise errors.Invalid(f"custom_css is {len(value.encode())} bytes.", field=field,
                             code="CSS_TOO_LARGE", rule=f"at most {MAX_CSS_BYTES} bytes",
                             fix="Trim the stylesheet.")
    lowered = value.lower()
    for breakout in ("</", "<!--"):
        if breakout in lowered:
            raise _remote(field, breakout)
    # Nesting is bounded before anything recursive reads it (the parser and the walk below
    # both recurse per level); brackets inside strings and comments count too, which only ever
    # refuses more.
    depth = deepest = 0
    for char in value:
        if char in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")}]":
            depth = max(depth - 1, 0)
    if deepest > MAX_CSS_DEPTH:
        raise errors.Invalid(f"custom_css nests blocks {deepest} deep.", field=field,
                             code="CSS_TOO_DEEP", rule=f"at most {MAX_CSS_DEPTH} levels of "
                             "(), [] and {} inside each other", fix="Flatten the stylesheet.")
    _walk(tinycss2.parse_stylesheet(value, skip_comments=True, skip_whitespace=True), field)
    return value


MAX_CSS_DEPTH = 32


def _walk(nodes: Any, field: str) -> None:
    for node in nodes or ():
        kind = node.type
        if kind == "error":
            raise _remote(field, f"unparsable CSS: {node.message}")
        if kind == "at-rule":
            if node.lower_at_keyword in ("import", "namespace"):
                raise _remote(field, f"@{node.lower_at_keyword}")
            _walk(node.prelude, field)
            _walk(node.content, field)
        elif kind == "qualified-rule":
            _walk(node.prelude, field)
            _walk(node.content, field)
        elif kind == "url":
            _local(node.value, field)
        elif kind == "function":
            if node.lower_name in _RUNS:
                raise _remote(field, f"{node.lower_name}()")
            if node.lower_name in _LOADS:
                for arg in node.arguments:
                    if arg.type == "string":
                        _local(arg.value, field)
            _walk(node.arguments, field)
        elif kind in ("() block", "[] block", "{} block"):
            _walk(node.content, field)
        elif kind == "ident" and node.lower_value in ("-moz-binding", "behavior"):
            raise _remote(field, node.lower_value)


def _local(target: str, field: str) -> None:
    if not target.strip().lower().startswith("data:"):
        raise _remote(field, f"url({target.strip()[:40]})")


_LOADS = ("url", "src", "image-set", "-webkit-image-set", "image", "cross-fade")
_RUNS = ("expression", "javascript")


def _remote(field: str, found: str) -> errors.Invalid:
    return errors.Invalid(f"custom_css can load or run content from elsewhere ({found}).",
                          field=field, code="CSS_LOADS_REMOTE_CONTENT",
                          rule="no @import, url() only with data: URIs, nothing that ends the "
                               "<style> element",
                          fix="Inline images as data: URIs and host fonts with the platform.")
