"""The signing keys: create, rotate and revoke them, publish their public halves (JWKS), and sign
and verify tokens with the algorithm pinned.

Keys live in the database, so every API process signs and verifies with the same ones; each
process caches them for a few seconds (`KeyRing.ttl`), which bounds how long a rotation or a
revoked key takes to reach it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hostplane import errors
from hostplane.db.base import new_id
from hostplane.db.engine import Database
from hostplane.db.helpers import try_insert
from hostplane.tokens.models import SigningKey

ALGORITHM = "EdDSA"
AUDIENCE = "hostplane:browser"
# A previous key keeps verifying for the longest token life plus ten minutes, then leaves the JWKS.
MAX_TTL = timedelta(seconds=86_400)
OVERLAP = MAX_TTL + timedelta(minutes=10)


@dataclass(frozen=True)
class Keys:
    active: tuple[str, Ed25519PrivateKey] | None
    public: dict[str, Ed25519PublicKey]  # every key that still verifies, by kid
    jwks: dict[str, Any]


def _key(now: datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    kid = new_id()
    jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return SigningKey(id=kid, algorithm=ALGORITHM, private_key=pem, public_jwk=jwk,
                      status="active", created_at=now)


def rotate(session: Session, now: datetime) -> SigningKey:
    """A new active key; the active one becomes `previous` (it still verifies what it signed) and
    previous keys older than the overlap stop verifying."""
    session.execute(update(SigningKey).where(SigningKey.status == "active")
                    .values(status="previous", retired_at=now))
    session.execute(update(SigningKey)
                    .where(SigningKey.status == "previous", SigningKey.retired_at < now - OVERLAP)
                    .values(status="revoked", revoked_at=now))
    key = _key(now)
    session.add(key)
    return key


def revoke(session: Session, kid: str, now: datetime) -> SigningKey:
    """Stop trusting a key at once (it leaked): every token it signed is refused. Revoking the
    active key leaves no signer until the next rotation creates one."""
    key = session.get(SigningKey, kid)
    if key is None:
        raise errors.NotFound(f"No signing key {kid!r}.", code="SIGNING_KEY_NOT_FOUND",
                              fix="List them with `hostplane keys signing-keys`.")
    key.status, key.revoked_at = "revoked", now
    return key


class KeyRing:
    def __init__(self, database: Database, *, ttl: float = 5.0) -> None:
        self.database, self.ttl = database, ttl
        self._keys: Keys | None = None
        self._loaded = 0.0
        self._lock = threading.Lock()

    def keys(self, session: Session | None = None) -> Keys:
        """The keys, reloaded when older than `ttl`: through `session` when the caller is in a
        transaction (see `sign`), else through a short read of its own."""
        if self._keys is None or time.monotonic() - self._loaded > self.ttl:
            with self._lock:
                if self._keys is None or time.monotonic() - self._loaded > self.ttl:
                    self._keys, self._loaded = self._load(session), time.monotonic()
        return self._keys

    def forget(self) -> None:
        """Reload on next use (this process just rotated or revoked)."""
        self._keys = None

    def _load(self, session: Session | None = None) -> Keys:
        if session is not None:
            return self._read(session)
        with self.database.transaction(write=False) as own:
            return self._read(own)

    def _read(self, session: Session) -> Keys:
        rows = list(session.scalars(select(SigningKey)
                                    .where(SigningKey.status != "revoked")
                                    .order_by(SigningKey.created_at)))
        active = next((r for r in rows if r.status == "active"), None)
        signer = None
        if active is not None:
            private = serialization.load_pem_private_key(active.private_key.encode(), None)
            assert isinstance(private, Ed25519PrivateKey)
            signer = (active.id, private)
        public = {r.id: OKPAlgorithm.from_jwk(r.public_jwk) for r in rows}
        jwks = {"keys": [r.public_jwk for r in rows]}
        return Keys(signer, public, jwks)  # type: ignore[arg-type]

    def sign(self, claims: dict[str, Any], session: Session, now: datetime) -> tuple[str, str]:
        """The compact JWS and the kid that signed it. The first token ever minted creates the
        first key, in the caller's transaction (`session`).

        A reload goes through that same session: a second connection, taken while the caller
        holds one (and, on SQLite, the write lock), deadlocked a burst of mints once every
        connection of the pool was held by a mint waiting for that lock."""
        keys = self.keys(session)
        if keys.active is None:
            row = session.scalars(select(SigningKey).where(SigningKey.status == "active")
                                  .order_by(SigningKey.created_at)).first()
            if row is None:
                made = _key(now)
                if try_insert(session, made):
                    row = made
                else:  # another process made the first key just now
                    row = session.scalars(select(SigningKey)
                                          .where(SigningKey.status == "active")).one()
            self.forget()
            private = serialization.load_pem_private_key(row.private_key.encode(), None)
            assert isinstance(private, Ed25519PrivateKey)
            signer = (row.id, private)
        else:
            signer = keys.active
        kid, key = signer
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid}), kid

    def signed_here(self, token: str) -> bool:
        """Whether `token` names one of this platform's signing keys (without verifying it)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return isinstance(kid, str) and kid in self.keys().public

    def verify(self, token: str, *, issuer: str, now: datetime,
               leeway: float = 60) -> tuple[dict[str, Any], str]:
        """The claims of a token this platform signed, and the kid that signed it, or 401. `alg` is pinned (never `none` or
        HS*, whatever the header says), `kid` must name a key that still verifies, and `exp`,
        `nbf`, `iat`, `aud` and `iss` are required and checked (`nbf` with `leeway` seconds for
        clocks of other API processes; `exp` exactly)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid("it is not a well-formed JWS") from None
        if header.get("alg") != ALGORITHM:
            raise invalid(f"its algorithm must be {ALGORITHM}")
        kid = header.get("kid")
        key = self.keys().public.get(kid) if isinstance(kid, str) else None
        if key is None and isinstance(kid, str) and time.monotonic() - self._loaded > 1.0:
            self.forget()  # a key made since the last load (at most one reload a second)
            key = self.keys().public.get(kid)
        if key is None:
            raise invalid("its signing key is unknown or revoked" if kid else "it has no kid")
        try:
            # Times are checked below against the platform's clock, not the machine's.
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE,
                                issuer=issuer,
                                options={"require": ["exp", "nbf", "iat", "aud", "iss", "jti",
                                                     "sub", "tid", "wid", "perms"],
                                         "verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False})
        except jwt.PyJWTError as exc:
            raise invalid(str(exc)) from None
        at = now.timestamp()
        if not isinstance(claims["exp"], int | float) or at >= claims["exp"]:
            raise errors.Unauthenticated(
                "The browser token has expired.", code="TOKEN_EXPIRED",
                fix="Ask your backend for a new browser token.")
        if not isinstance(claims["nbf"], int | float) or at < claims["nbf"] - leeway:
            raise invalid("it is not valid yet")
        return claims, kid


def invalid(why: str) -> errors.Unauthenticated:
    return errors.Unauthenticated(f"The browser token is not valid: {why}.",
                                  code="INVALID_TOKEN",
                                  fix="Ask your backend for a new browser token.")
