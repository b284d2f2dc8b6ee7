"""Authenticating a presented browser token: the signature (keys cached briefly per process),
then one query that says whether it was revoked, so a revocation counts from the next request."""

from __future__ import annotations

from hostplane import errors
from hostplane.clock import Clock
from hostplane.db.engine import Database
from hostplane.tenancy.principal import Principal
from hostplane.tokens.service import principal_for
from hostplane.tokens.signing import KeyRing


def looks_like_token(credential: str) -> bool:
    """A compact JWS (three base64url parts), as opposed to an API key."""
    return credential.count(".") == 2 and credential.startswith("eyJ")


class TokenAuthenticator:
    def __init__(self, database: Database, ring: KeyRing, clock: Clock, issuer: str) -> None:
        self.database, self.ring, self.clock, self.issuer = database, ring, clock, issuer

    def authenticate(self, token: str, tenant_header: str | None) -> Principal:
        claims, kid = self.ring.verify(token, issuer=self.issuer, now=self.clock.now())
        if tenant_header and tenant_header != claims["tid"]:
            raise errors.NotFound(f"No organization {tenant_header!r} for this credential.",
                                  code="ORG_NOT_FOUND", field="X-MIOSA-Tenant",
                                  fix="Leave the header out: a browser token names its "
                                      "organization.")
        with self.database.transaction(write=False) as session:
            return principal_for(session, claims, kid, self.clock.now())
