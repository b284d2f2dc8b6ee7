"""Reserve, replay and complete Idempotency-Key records (Stripe's model, scoped per organization)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hostplane import errors
from hostplane.db.helpers import try_insert
from hostplane.db.scope import Scope
from hostplane.idempotency.models import IdempotencyRecord

MAX_KEY_LENGTH = 255
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


def request_fingerprint(body: bytes) -> str:
    """A hash of the request body that ignores JSON formatting and key order."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


def check_key(key: str) -> str:
    if not (0 < len(key) <= MAX_KEY_LENGTH) or not key.isprintable():
        raise errors.Invalid(
            "The Idempotency-Key header must be 1-255 printable characters.",
            field="Idempotency-Key",
            rule="1-255 printable characters",
            fix="Send a UUID.",
        )
    return key


def reserve(
    scope: Scope,
    *,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
    principal_id: str,
    now: datetime,
    ttl: timedelta,
    lease: timedelta = LEASE,
) -> Replay | None:
    """Claim the key for this request; a Replay if it already completed with this same body.

    A claim whose request never finished (a crash, a lost connection) lapses after `lease`, so a
    retry can run the request again instead of being told forever that it is in progress.
    """
    for _ in range(3):
        record = scope.find(IdempotencyRecord, key=key, method=method, path=path)
        lapsed = record is not None and record.status_code is None and (
            record.created_at <= now - lease)
        if record is not None and (record.expires_at <= now or lapsed):
            scope.session.delete(record)
            scope.session.flush()
            record = None
        if record is None:
            fresh = IdempotencyRecord(
                tenant_id=scope.tenant_id,
                key=key,
                method=method,
                path=path,
                request_hash=fingerprint,
                principal_id=principal_id,
                created_at=now,
                expires_at=now + ttl,
            )
            if try_insert(scope.session, fresh):
                return None
            continue
        if record.request_hash != fingerprint or record.principal_id != principal_id:
            raise errors.Invalid(
                "This Idempotency-Key was already used with a different request body or by "
                "another credential.",
                code="IDEMPOTENCY_KEY_REUSED",
                field="Idempotency-Key",
                rule="one key, one request body, one credential",
                fix="Send a new Idempotency-Key for a different request.",
            )
        if record.status_code is None:
            raise errors.Conflict(
                "A request with this Idempotency-Key is still in progress.",
                code="IDEMPOTENCY_KEY_IN_USE",
                field="Idempotency-Key",
                fix="Retry after the first request finishes.",
                extra={"retryable": True},
            )
        return Replay(record.status_code, record.response_body or "")
    raise errors.Conflict("The Idempotency-Key is contended; retry.", code="IDEMPOTENCY_KEY_IN_USE")


def complete(scope: Scope, *, key: str, method: str, path: str, status: int, body: str) -> None:
    record = scope.find(IdempotencyRecord, key=key, method=method, path=path)
    if record is not None:
        record.status_code, record.response_body = status, body


def release(scope: Scope, *, key: str, method: str, path: str) -> None:
    """Forget a reservation whose request failed, so a retry can run it again."""
    scope.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == scope.tenant_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.method == method,
            IdempotencyRecord.path == path,
            IdempotencyRecord.status_code.is_(None),
        )
    )


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete expired records (the worker's job). Returns how many went."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    return result.rowcount or 0
