"""Request and response shapes for API keys."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from hostplane.inputs import Moment, Text
from hostplane.keys.models import ApiKey
from hostplane.tenancy.schemas import Input, Name

Scope = Text(1, 64)


class ApiKeyCreate(Input):
    name: Name
    scopes: list[Scope] | None = Field(None, description='Permissions; omitted means all ("*").')
    expires_at: Moment | None = None


class ApiKeyUpdate(Input):
    name: Name | None = None
    scopes: list[Scope] | None = None
    status: Literal["active", "revoked"] | None = None


class ApiKeyPublic(BaseModel):
    id: str
    tenant_id: str
    name: str
    key_prefix: str
    key_type: str = "platform"
    key_purpose: str = "api"
    scopes: list[str]
    status: str
    rate_limit_rpm: int | None = None
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            tenant_id=key.tenant_id,
            name=key.name,
            key_prefix=key.key_prefix,
            scopes=list(key.scopes),
            status=key.status,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            expires_at=key.expires_at,
            created_at=key.created_at,
            updated_at=key.updated_at,
        )


class ApiKeyCreated(ApiKeyPublic):
    """The one response that carries the secret. `key`, `token` and `api_key` hold the same value."""

    # Client quirk: the docs read the secret from `key`, a docstring from `token` (§15.3).
    key: str | None = Field(description="The secret, shown once; null on an Idempotency-Key replay.")
    token: str | None = Field(description="Same as key.")
    api_key: str | None = Field(description="Same as key.")
    secret_redacted: bool = Field(False, description="True on a replay: the secret is not repeated.")

    @classmethod
    def with_secret(cls, key: ApiKey, secret: str) -> ApiKeyCreated:
        public = ApiKeyPublic.of(key).model_dump()
        return cls(**public, key=secret, token=secret, api_key=secret)


def redacted_for_replay(created: ApiKeyCreated) -> bytes:
    """What an Idempotency-Key replay of a key create or rotation returns: the key's record with
    the secret taken out, since a secret is shown once."""
    data = created.model_dump(mode="json")
    data.update(key=None, token=None, api_key=None, secret_redacted=True)
    return json.dumps({"data": data}).encode()
