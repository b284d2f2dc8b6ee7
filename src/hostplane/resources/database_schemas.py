"""Request and response shapes for databases (contract §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from hostplane.inputs import Text
from hostplane.resources.inputs import Metadata, Name, OwnershipInput, RenameUpdate, owned_fields

Engine = Literal["postgresql", "mysql", "redis", "mongodb", "sqlite"]


class DatabaseCreate(OwnershipInput):
    name: Name | None = None
    engine: Engine | None = Field(None, description="Omitted: the first engine this hostplane "
                                                    "offers (postgresql when configured)")
    engine_version: Text(1, 32) | None = None  # type: ignore[valid-type]
    version: Text(1, 32) | None = None  # type: ignore[valid-type]
    cpu_count: Annotated[int, Field(ge=1, le=64)] | None = None
    memory_mb: Annotated[int, Field(ge=128, le=262144)] | None = None
    storage_mb: Annotated[int, Field(ge=64, le=16 * 1048576)] | None = None
    region: Text(1, 64) | None = None  # type: ignore[valid-type]
    metadata: Metadata | None = None

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_alias(cls, value: Any) -> Any:
        return "postgresql" if value == "postgres" else value


class DatabasePublic(BaseModel):
    id: str
    object: str = "database"
    tenant_id: str
    name: str | None
    state: str
    status_reason: str | None
    engine: str
    engine_version: str | None
    cpu_count: int | None
    memory_mb: int | None
    storage_mb: int | None
    region: str | None
    host: str | None = None
    port: int | None = None
    workspace_id: str
    project_id: str
    external_workspace_id: str | None
    external_project_id: str | None
    external_user_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    inserted_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: Any) -> DatabasePublic:
        return cls(
            **owned_fields(d),
            id=d.id, name=d.name, state=d.state,
            status_reason=d.status_reason, engine=d.engine, engine_version=d.engine_version,
            cpu_count=d.cpu_count, memory_mb=d.memory_mb, storage_mb=d.storage_mb,
            region=d.region, metadata=d.meta or {}, created_at=d.created_at, inserted_at=d.created_at,
            updated_at=d.updated_at,
        )


DatabaseUpdate = RenameUpdate


class DatabaseCredentials(BaseModel):
    """How to connect (GET …/credentials only; never in other answers, logs or the audit log)."""

    engine: str
    url: str
    host: str | None
    port: int | None
    database: str
    username: str | None
    password: str | None
