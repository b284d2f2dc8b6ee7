"""Request and response shapes for browser tokens (the spec's §9, in snake_case or camelCase)
and the official clients' scoped tokens (`/tokens/scoped`, contract §15.1)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, BaseModel, Field

from hostplane.inputs import Text
from hostplane.tenancy.schemas import Input
from hostplane.tokens.models import BrowserToken
from hostplane.tokens.service import DEFAULT_TTL, MintRequest

Id = Text(1, 200)
Permission = Text(1, 64)
Port = Annotated[int, Field(ge=1, le=65535)]


def _either(name: str) -> AliasChoices:
    head, *rest = name.split("_")
    return AliasChoices(name, head + "".join(p.title() for p in rest))


class BrowserTokenCreate(Input):
    workspace_id: Id | None = Field(None, validation_alias=_either("workspace_id"))
    project_id: Id | None = Field(None, validation_alias=_either("project_id"))
    external_workspace_id: Id | None = Field(None, validation_alias=_either(
        "external_workspace_id"))
    external_project_id: Id | None = Field(None, validation_alias=_either("external_project_id"))
    external_user_id: Id | None = Field(None, validation_alias=_either("external_user_id"))
    permissions: list[Permission] = Field(
        min_length=1, max_length=32, description="e.g. sandbox:read, sandbox:exec, preview:read")
    ttl_seconds: int = Field(DEFAULT_TTL, validation_alias=_either("ttl_seconds"),
                             description="30 to 86400; default 900")
    sandbox_ids: list[Id] | None = Field(None, max_length=100,
                                         validation_alias=_either("sandbox_ids"),
                                         description="Only these sandboxes")
    ports: list[Port] | None = Field(None, max_length=100,
                                     description="Only previews of these ports")

    def request(self) -> MintRequest:
        return MintRequest(kind="browser", permissions=list(self.permissions),
                           ttl_seconds=self.ttl_seconds, workspace_id=self.workspace_id,
                           project_id=self.project_id,
                           external_workspace_id=self.external_workspace_id,
                           external_project_id=self.external_project_id,
                           external_user_id=self.external_user_id, sandbox_ids=self.sandbox_ids,
                           ports=self.ports)


class ScopedTokenCreate(Input):
    """What `client.tokens.create_scoped` sends."""

    user_id: Id
    workspace_id: Id
    expires_in_seconds: int = 3600
    scopes: list[Permission] | None = Field(None, max_length=32, description="Omitted: every "
                                            "browser permission the key holds")
    project_id: Id | None = None
    external_project_id: Id | None = None

    def request(self) -> MintRequest:
        return MintRequest(kind="scoped", permissions=self.scopes,
                           ttl_seconds=self.expires_in_seconds, workspace_id=self.workspace_id,
                           project_id=self.project_id,
                           external_project_id=self.external_project_id,
                           external_user_id=self.user_id, permissions_field="scopes")


class RevokeUser(Input):
    external_user_id: Id = Field(validation_alias=_either("external_user_id"))


class BrowserTokenPublic(BaseModel):
    id: str = Field(description="The token's jti")
    kind: str
    external_user_id: str | None
    user_id: str | None
    workspace_id: str | None
    project_id: str | None
    external_workspace_id: str | None
    permissions: list[str]
    scopes: list[str] = Field(description="Same as permissions")
    sandbox_ids: list[str] | None
    ports: list[int] | None
    status: str = Field(description="active | expired | revoked")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: BrowserToken, now: datetime) -> BrowserTokenPublic:
        status = "revoked" if record.revoked_at else (
            "expired" if record.expires_at <= now else "active")
        return cls(id=record.id, kind=record.kind, external_user_id=record.external_user_id,
                   user_id=record.external_user_id, workspace_id=record.workspace_id,
                   project_id=record.project_id,
                   external_workspace_id=record.external_workspace_id,
                   permissions=list(record.permissions), scopes=list(record.permissions),
                   sandbox_ids=record.sandbox_ids, ports=record.ports, status=status,
                   created_at=record.created_at, expires_at=record.expires_at,
                   revoked_at=record.revoked_at)


class BrowserTokenCreated(BrowserTokenPublic):
    token: str | None = Field(description="The token, shown once; null on an Idempotency-Key "
                                          "replay")
    ttl_seconds: int
    token_type: str = "Bearer"


def redacted_for_replay(created: BrowserTokenCreated) -> bytes:
    data = created.model_dump(mode="json")
    data["token"] = None
    return json.dumps({"data": data}).encode()


class RevokedUser(BaseModel):
    external_user_id: str
    revoked: int = Field(description="How many live tokens this ended")
    revoked_before: datetime


class BrowserOrigins(Input):
    origins: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(max_length=50)


class BrowserOriginsPublic(BaseModel):
    origins: list[str]
