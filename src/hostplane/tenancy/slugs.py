"""Slugs: the one normalization of names into DNS labels, and the words no organization may take."""

from __future__ import annotations

import re
import secrets
import string

from anyascii import anyascii

from hostplane import errors

MAX_LABEL = 63

# Labels the platform uses, or may use, directly under its own domains. Organization slugs become
# DNS labels ({deployment}.{organization}.{managed domain}), so none of these can be one.
RESERVED_SLUGS: frozenset[str] = frozenset(
    """
    api www app apps admin administrator root system sandbox sandboxes computer computers desktop
    proxy preview previews static assets cdn auth login logout oauth sso account accounts billing
    mail email smtp imap pop status docs doc help support blog dev staging prod production test
    internal edge gateway ns ns1 ns2 dns mx ftp ws wss git registry console dashboard portal
    platform tenant tenants org orgs organization organizations workspace workspaces project
    projects deployment deployments database databases domain domains hostplane miosa localhost
    public private default null undefined _acme-challenge acme
    """.split()
)

TEMPORARY_SLUG = re.compile(r"^org-[a-z0-9]{8}$")
_NOT_LABEL = re.compile(r"[^a-z0-9]+")
_TEMP_ALPHABET = string.ascii_lowercase + string.digits


def normalize(name: str, max_length: int = MAX_LABEL) -> str:
    """Transliterate to ASCII, lower-case, collapse every run of other characters to one hyphen."""
    ascii_name = anyascii(name).lower()
    slug = _NOT_LABEL.sub("-", ascii_name).strip("-")
    return slug[:max_length].rstrip("-")


def temporary_slug() -> str:
    """The placeholder slug of an organization that has not been set up: org- + 8 × [a-z0-9]."""
    return "org-" + "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(8))


def is_temporary(slug: str) -> bool:
    return bool(TEMPORARY_SLUG.match(slug))


def organization_slug(name: str, *, field: str = "name") -> str:
    """The permanent slug an organization name gives, or Invalid saying why it can't be one."""
    slug = normalize(name)
    if not slug:
        raise errors.Invalid(
            f"The organization name {name!r} has no letters or digits, so it gives no slug.",
            field=field,
            rule="must contain at least one letter or digit",
            fix="Use your organization's real name, e.g. \"ClinicIQ\".",
        )
    if slug in RESERVED_SLUGS:
        raise errors.Invalid(
            f"The organization name {name!r} normalizes to {slug!r}, a reserved word.",
            code="SLUG_RESERVED",
            field=field,
            rule="the slug may not be a reserved word",
            fix="Use a more specific name, e.g. your company's full name.",
        )
    if is_temporary(slug):
        raise errors.Invalid(
            f"The organization name {name!r} normalizes to {slug!r}, which looks like a temporary "
            "setup slug.",
            code="SLUG_RESERVED",
            field=field,
            rule="the slug may not have the temporary org-xxxxxxxx shape",
            fix="Use your organization's real name.",
        )
    return slug


def label_slug(value: str, *, field: str) -> str:
    """Check that an explicitly given slug is already a normalized DNS label."""
    if normalize(value) != value or not value:
        suggestion = normalize(value)
        raise errors.Invalid(
            f"{field} {value!r} is not a valid slug.",
            field=field,
            rule="lower-case a-z, 0-9 and single hyphens, no hyphen at either end, 1-63 characters",
            fix=f"Use {suggestion!r}." if suggestion else "Use letters and digits.",
        )
    return value


def slug_taken(what: str, slug: str) -> errors.Conflict:
    """The refusal for an explicitly requested slug that is already in use."""
    where = {"project": " in the workspace", "sandbox": " across the platform",
             "computer": " across the platform"}.get(what, " in the organization")
    return errors.Conflict(
        f"The {what} slug {slug!r} is already taken.",
        code="SLUG_TAKEN",
        field="slug",
        rule=f"{what} slugs are unique{where}",
        fix="Choose another slug, or leave slug out to derive a free one from the name.",
    )
