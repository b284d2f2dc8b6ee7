"""Small database helpers shared by every area: race-safe inserts and keyset pagination."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hostplane import errors

T = TypeVar("T")
_log = logging.getLogger("hostplane.db")

MAX_PAGE = 200


def try_insert(session: Session, *objects: Any) -> bool:
    """Insert, in the order given, inside one savepoint; False when a unique constraint refused
    one (someone else won), and then none of them is inserted."""
    try:
        with session.begin_nested():
            for obj in objects:  # in order: a row may refer to the one before it
                session.add(obj)
                session.flush()
        return True
    except IntegrityError:
        return False


def apply_or_raise(session: Session, change: Callable[[], object], error: Exception) -> None:
    """Make `change` to loaded objects inside a savepoint and flush it; if a unique constraint
    refuses it, the savepoint (and only it) rolls back, the objects reload, and `error` is raised.

    The change itself must happen inside the savepoint: opening one flushes whatever is pending
    first, outside it, where a refusal would poison the whole transaction.
    """
    try:
        with session.begin_nested():
            change()
            session.flush()
    except IntegrityError:
        raise error from None


def next_free_slug(session: Session, column: Any, base: str, *where: Any) -> str:
    """`base`, or `base-2`, `base-3`, … whichever is free among rows matching `where`.

    The second probe is a prefix LIKE, not a range: under PostgreSQL's linguistic collations
    (en_US.UTF-8) punctuation does not order as bytes do. Slugs hold no LIKE wildcards.
    """
    base = base[:55].rstrip("-") or "item"
    if session.scalar(select(column).where(*where, column == base).limit(1)) is None:
        return base
    taken = set(session.scalars(select(column).where(*where, column.like(f"{base}-%"))))
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int


def _encode(created_at: datetime, object_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), object_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, object_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(created)
        # Only what _encode writes: an aware time in a sane range and a printable id.
        if moment.tzinfo is None or not 2000 <= moment.year <= 9000:
            raise ValueError("not a cursor time")
        moment = moment.astimezone(UTC)
        if not isinstance(object_id, str) or not object_id.isprintable() or len(object_id) > 64:
            raise ValueError("not a cursor id")
        return moment, object_id
    except (ValueError, TypeError, OverflowError):
        raise errors.Invalid(
            "The cursor is not one this API returned.",
            field="cursor",
            rule="must be a next_cursor value from a previous page",
            fix="Start again without a cursor.",
        ) from None


def paginate(
    session: Session,
    stmt: Select[tuple[T]],
    model: Any,
    *,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
) -> Page[T]:
    """One page ordered by (created_at, id); `cursor` continues after the previous page."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    stmt = stmt.order_by(model.created_at, model.id)
    if cursor:
        created, object_id = _decode(cursor)
        stmt = stmt.where(
            or_(model.created_at > created, and_(model.created_at == created, model.id > object_id))
        )
    elif offset:
        stmt = stmt.offset(offset)
    items = list(session.scalars(stmt.limit(limit + 1)))
    more = len(items) > limit
    items = items[:limit]
    next_cursor = _encode(items[-1].created_at, items[-1].id) if more and items else None
    return Page(items, next_cursor, total)


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run `action` once the current transaction has committed: for outside effects that can't
    be undone (removing a sandbox's files), so they never happen for a write that didn't land."""
    session.info.setdefault("after_commit", []).append(action)


def on_rollback(session: Session, action: Callable[[], object]) -> None:
    """Run `action` if the current transaction rolls back: undoes an outside effect made before
    the commit (a sandbox directory created for a row that was never stored)."""
    session.info.setdefault("on_rollback", []).append(action)


def run_hooks(session: Session, *, committed: bool) -> None:
    """Run the hooks registered for how the transaction ended, and forget both lists."""
    done = session.info.pop("after_commit", [])
    undo = session.info.pop("on_rollback", [])
    for action in done if committed else undo:
        try:
            action()
        except Exception:  # the write stands (or is gone) either way; say so, and go on
            _log.exception("cleanup after %s failed", "commit" if committed else "rollback")
