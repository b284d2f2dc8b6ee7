"""Token tables: the platform's signing keys, every browser token issued (so it can be listed and
revoked), and per-user revocations ("everything issued to this user before now")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.db.base import Base, JSONType, TenantOwned


class SigningKey(Base):
    """An Ed25519 key that signs browser tokens (platform-wide; its id is the JWS `kid`).

    `active`: signs new tokens (exactly one). `previous`: signs nothing, still verifies the
    tokens it signed until they expire. `revoked`: verifies nothing (every token it signed dies).
    """

    __tablename__ = "signing_keys"
    __table_args__ = (
        # Exactly one signs: two first mints at once can't both make a key.
        Index("uq_signing_keys_active", "status", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="EdDSA")
    private_key: Mapped[str] = mapped_column(Text)  # PKCS#8 PEM
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]  # when it stopped signing
    revoked_at: Mapped[datetime | None]


class BrowserToken(TenantOwned, Base):
    """One minted token (never the token itself: it can't be shown again, and isn't needed)."""

    __tablename__ = "browser_tokens"
    __table_args__ = (
        Index("ix_browser_tokens_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_browser_tokens_tenant_id_external_user_id", "tenant_id", "external_user_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the `jti`
    kind: Mapped[str] = mapped_column(String(16))  # browser | scoped (the route that minted it)
    key_id: Mapped[str] = mapped_column(String(36))  # the signing key
    issued_by: Mapped[str] = mapped_column(String(36))  # the API key that minted it
    external_user_id: Mapped[str | None] = mapped_column(String(200))
    workspace_id: Mapped[str | None] = mapped_column(String(36))
    project_id: Mapped[str | None] = mapped_column(String(36))
    external_workspace_id: Mapped[str | None] = mapped_column(String(200))
    permissions: Mapped[list[str]] = mapped_column(JSONType)
    sandbox_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    ports: Mapped[list[int] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime]  # when it was issued
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class UserRevocation(TenantOwned, Base):
    """Tokens of this external user issued before `revoked_before` are dead."""

    __tablename__ = "token_user_revocations"
    __table_args__ = (UniqueConstraint("tenant_id", "external_user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    external_user_id: Mapped[str] = mapped_column(String(200))
    revoked_before: Mapped[datetime]
