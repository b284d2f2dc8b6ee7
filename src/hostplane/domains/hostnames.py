"""Hostname canonicalization: the one function that says what a domain someone typed means.

Accepts Unicode (stored as IDNA 2008 / UTS 46 A-labels, shown as U-labels), lower-cases, strips one
trailing dot. Refuses, each with its own rule in a 422: URLs, wildcards, IP addresses, single
labels, labels over 63 or names over 253 characters, and reserved top-level domains. Whether a name
overlaps the platform's own domains is the caller's check (it knows the platform).
"""

from __future__ import annotations

import ipaddress
import re

import idna

from hostplane import errors

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Special-use names no public DNS delegates (RFC 2606, 6761, 6762, 7686, 8375, 9476; ICANN's
# .internal): a certificate or a customer's DNS can never exist for them.
RESERVED_TLDS = frozenset(
    {"test", "invalid", "example", "localhost", "local", "onion", "internal", "alt", "arpa"}
)


def canonical_domain(value: str, *, field: str = "domain") -> str:
    """The stored form: lower-case A-labels, no trailing dot, at least two labels."""
    raw = value.strip()
    raw = raw[:-1] if raw.endswith(".") else raw
    if "://" in raw or "/" in raw or "@" in raw or ":" in raw and not _is_ip(raw):
        raise _invalid(value, field, "a bare hostname, without scheme, port or path",
                       f"Send {_host_part(raw)!r}.")
    if "*" in raw:
        raise _invalid(value, field, "no wildcards: give the name itself (a preview or "
                       "deployment domain covers the names under it)",
                       f"Send {raw.lstrip('*.')!r}.")
    if _is_ip(raw):
        raise _invalid(value, field, "a DNS name, not an IP address", "Use a hostname.")
    try:
        # ASCII needs no mapping beyond lower case, and its own checks below say more precisely
        # what is wrong than the IDNA codec would.
        ascii_name = raw.lower() if raw.isascii() else idna.encode(raw, uts46=True).decode()
    except idna.IDNAError:
        raise _invalid(value, field, "a valid internationalized hostname (IDNA 2008)",
                       "Check the spelling; each label must be 1-63 characters.") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise _invalid(value, field,
                       "at least two dot-separated labels of a-z, 0-9 and inner hyphens, each "
                       "1-63 characters, 253 in all", "Use a name like 'apps.example.com'.")
    if labels[-1].isdigit():
        raise _invalid(value, field, "a DNS name, not an IP address", "Use a hostname.")
    if labels[-1] in RESERVED_TLDS:
        raise errors.Invalid(
            f"{field} {value!r} is under .{labels[-1]}, which public DNS never delegates.",
            code="DOMAIN_RESERVED", field=field,
            rule=f"not under a reserved top-level domain ({', '.join(sorted(RESERVED_TLDS))})",
            fix="Use a domain registered in public DNS.")
    return ascii_name


def unicode_name(name: str) -> str:
    """The name as people read it (U-labels), for display next to the stored A-labels."""
    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name


def is_dns_name(host: str) -> bool:
    """`host` is lower-case A-labels of letters, digits and inner hyphens, 253 characters at most."""
    return len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def is_within(host: str, domain: str) -> bool:
    """`host` is `domain` itself or a name under it."""
    return host == domain or host.endswith("." + domain)


def _host_part(raw: str) -> str:
    return raw.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].split(":")[0]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _invalid(value: str, field: str, rule: str, fix: str) -> errors.Invalid:
    return errors.Invalid(f"{field} {value!r} is not a usable domain.", code="INVALID_DOMAIN",
                          field=field, rule=rule, fix=fix)
