"""Hostname canonicalization: what a domain someone typed means as a DNS name."""

from __future__ import annotations

import ipaddress
import re

import idna

from hostplane import errors

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def canonical_domain(value: str, *, field: str = "domain") -> str:
    """Lower-case ASCII (IDNA for international names), no trailing dot, at least two labels."""
    raw = value.strip().rstrip(".").lower()
    if "://" in raw or "/" in raw:
        raise _invalid(value, field, "a bare hostname, without scheme or path",
                       f"Send {_host_part(raw)!r}.")
    try:
        ascii_name = raw.encode("idna").decode("ascii") if raw else raw
    except UnicodeError:
        raise _invalid(value, field, "a valid (internationalized) hostname",
                       "Check the spelling; each label must be 1-63 characters.") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise _invalid(value, field,
                       "at least two dot-separated labels of a-z, 0-9 and inner hyphens, each "
                       "1-63 characters, 253 in all", "Use a name like 'apps.example.com'.")
    if labels[-1].isdigit() or _is_ip(ascii_name):
        raise _invalid(value, field, "a DNS name, not an IP address", "Use a hostname.")
    return ascii_name


def is_within(host: str, domain: str) -> bool:
    """`host` is `domain` itself or a name under it."""
    return host == domain or host.endswith("." + domain)


def _host_part(raw: str) -> str:
    return raw.split("://", 1)[-1].split("/", 1)[0]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _invalid(value: str, field: str, rule: str, fix: str) -> errors.Invalid:
    return errors.Invalid(f"{field} {value!r} is not a usable domain.", code="INVALID_DOMAIN",
                          field=field, rule=rule, fix=fix)


def unicode_name(name: str) -> str:
    """The name as people read it (U-labels), for display next to the stored A-labels."""
    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name
