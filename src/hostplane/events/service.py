"""Reading the event log: filters, `types` globs (`sandbox.*`), and a cursor that is an id."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.events.models import Event

MAX_PATTERNS = 20
_PATTERN = re.compile(r"^(\*|[a-z][a-z_]*(\.([a-z][a-z_]*|\*))*)$")


@dataclass(frozen=True)
class EventFilters:
    types: tuple[str, ...] = ()
    object_type: str | None = None
    object_id: str | None = None
    workspace_id: str | None = None
    project_id: str | None = None
    external_workspace_id: str | None = None
    external_project_id: str | None = None
    since: datetime | None = None


def parse_types(raw: str | list[str] | None, field: str = "types") -> tuple[str, ...]:
    """`sandbox.*,domain.verified` (comma-separated, or repeated) → patterns, each checked."""
    items = raw if isinstance(raw, list) else [raw or ""]
    patterns = tuple(dict.fromkeys(p.strip() for item in items for p in item.split(",")
                                   if p.strip()))
    if len(patterns) > MAX_PATTERNS:
        raise errors.Invalid(f"{len(patterns)} type patterns is too many.",
                             code="EVENT_TYPES_INVALID", field=field,
                             rule=f"at most {MAX_PATTERNS} patterns",
                             fix="Use a wildcard such as 'sandbox.*' to cover several types.")
    for pattern in patterns:
        if len(pattern) > 64 or not _PATTERN.match(pattern):
            raise errors.Invalid(
                f"{pattern[:80]!r} is not an event type pattern.", code="EVENT_TYPES_INVALID",
                field=field, rule="dot-separated lower-case words, where a whole word may be *",
                fix="Use e.g. 'sandbox.*', 'domain.verified' or '*'.")
    return patterns


def list_events(scope: Scope, filters: EventFilters, *, after: int | None,
                limit: int, until: int | None = None) -> list[Event]:
    """This organization's events after `after` (an event id, and up to `until`), oldest
    first."""
    stmt = scope.select(Event).order_by(Event.id).limit(limit)
    if after is not None:
        stmt = stmt.where(Event.id > after)
    if until is not None:
        stmt = stmt.where(Event.id <= until)
    if filters.types and "*" not in filters.types:
        stmt = stmt.where(or_(*(Event.type.like(_like(p), escape="\\") for p in filters.types)))
    for column in ("object_type", "object_id", "workspace_id", "project_id",
                   "external_workspace_id", "external_project_id"):
        if (value := getattr(filters, column)) is not None:
            stmt = stmt.where(getattr(Event, column) == value)
    if filters.since is not None:
        stmt = stmt.where(Event.created_at >= filters.since)
    return list(scope.session.scalars(stmt))


def latest_id(scope: Scope) -> int:
    """The newest event's id (0 when there is none): where a stream without a cursor starts."""
    return scope.session.scalar(
        select(Event.id).where(Event.tenant_id == scope.tenant_id)
        .order_by(Event.id.desc()).limit(1)) or 0


def matches(type_: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """Whether an event type is wanted by `patterns`: the same rule as list_events' filter
    (patterns are checked by parse_types, so `*` is their only special character)."""
    return any(fnmatch.fnmatchcase(type_, pattern) for pattern in patterns)


def _like(pattern: str) -> str:
    """A glob whose only wildcard is `*` (a whole word, or everything after a dot) as LIKE."""
    return pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
