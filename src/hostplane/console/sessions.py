"""Console sessions: signing in with an API key once, the cookie that stands for it, idle and
absolute expiry, sign-out, and the CSRF token every form carries.

The browser holds only a random token (HttpOnly cookie); the database holds its SHA-256 and the id
of the key it was opened with, never the key. Each request re-reads that key, so a key revoked or
expired meanwhile ends the session at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from hostplane import errors
from hostplane.console.models import ConsoleSession
from hostplane.db.engine import Database
from hostplane.keys.models import ApiKey
from hostplane.settings import Settings
from hostplane.tenancy.principal import Principal

COOKIE = "console_session"
SIGNIN_COOKIE = "console_signin"  # the CSRF secret of the sign-in form, before any session
TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str) -> str:
    """The form token of a cookie's secret: a page can only know it from a page we served."""
    return hmac.new(secret.encode(), b"console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(secret: str | None, sent: str | None) -> bool:
    return bool(secret and sent) and hmac.compare_digest(csrf_token(secret or ""), sent or "")


@dataclass(frozen=True)
class Signed:
    """A live session: who it acts as, and the cookie secret it was found by."""

    id: str
    principal: Principal
    secret: str


def expired() -> errors.Unauthenticated:
    return errors.Unauthenticated(
        "Your console session has ended (signed out, idle too long, or past its lifetime).",
        code="SESSION_EXPIRED", fix="Sign in again with an API key.")


def open_session(database: Database, principal: Principal, settings: Settings,
                 now: datetime) -> tuple[str, str]:
    """A new session for `principal` (an API key's); answers (session id, cookie secret)."""
    secret = new_secret()
    row = ConsoleSession(tenant_id=principal.tenant_id, token_hash=_hash(secret),
                         key_id=principal.subject_id, created_at=now, last_seen_at=now,
                         expires_at=now + timedelta(hours=settings.console_max_hours))
    with database.transaction() as session:
        session.add(row)
        session.flush()
        return row.id, secret


def find_session(database: Database, secret: str, settings: Settings, now: datetime) -> Signed:
    """The live session of a cookie secret and the principal of its key, else SESSION_EXPIRED."""
    idle = timedelta(minutes=settings.console_idle_minutes)
    with database.transaction(write=False) as session:
        row = session.execute(
            select(ConsoleSession.id, ConsoleSession.tenant_id, ConsoleSession.last_seen_at,
                   ConsoleSession.expires_at, ConsoleSession.ended_at, ApiKey.id.label("key_id"),
                   ApiKey.scopes, ApiKey.status, ApiKey.expires_at.label("key_expires_at"))
            .join(ApiKey, ApiKey.id == ConsoleSession.key_id)
            .where(ConsoleSession.token_hash == _hash(secret))).first()
    if (row is None or row.ended_at is not None or now >= row.expires_at
            or now - row.last_seen_at > idle or row.status != "active"
            or (row.key_expires_at is not None and row.key_expires_at <= now)):
        raise expired()
    if now - row.last_seen_at >= TOUCH_EVERY:
        with database.transaction() as session:
            session.execute(update(ConsoleSession).where(ConsoleSession.id == row.id)
                            .values(last_seen_at=now))
    principal = Principal(tenant_id=row.tenant_id, kind="api_key", subject_id=row.key_id,
                          scopes=frozenset(row.scopes))
    return Signed(row.id, principal, secret)


def end_session(database: Database, session_id: str, now: datetime) -> None:
    with database.transaction() as session:
        session.execute(update(ConsoleSession).where(ConsoleSession.id == session_id)
                        .values(ended_at=now))
