"""Databases (contract §9): `{"data": …}` everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, DataList, Deleted, Paging
from hostplane.api.filters import Filters
from hostplane.resources import databases
from hostplane.resources.database_schemas import (
    DatabaseCreate,
    DatabaseCredentials,
    DatabasePublic,
    DatabaseUpdate,
)

router = APIRouter(prefix="/databases", tags=["databases"])

Reader = Annotated[RequestContext, needs("database:read")]
Writer = Annotated[RequestContext, needs("database:write")]


@router.post("", response_model=Data[DatabasePublic], status_code=status.HTTP_201_CREATED,
             summary="Create a database (engine postgresql, alias postgres, or sqlite; "
                     "422 ENGINE_NOT_AVAILABLE names the configured ones)")
async def create_database(body: DatabaseCreate, ctx: Writer) -> Data[DatabasePublic]:
    return Data(data=DatabasePublic.of(await ctx.run(databases.create_database, body, ctx.env)))


@router.get("", response_model=DataList[DatabasePublic], summary="List databases")
async def list_databases(ctx: Reader, paging: Paging, filters: Filters) -> DataList[DatabasePublic]:
    page = await ctx.run(databases.list_databases, filters, limit=paging.limit,
                         cursor=paging.cursor, offset=paging.offset)
    return DataList(data=[DatabasePublic.of(d) for d in page.items], next_cursor=page.next_cursor,
                    meta=paging.meta(page.total))


@router.get("/{database_id}", response_model=Data[DatabasePublic], summary="One database")
async def get_database(database_id: str, ctx: Reader) -> Data[DatabasePublic]:
    return Data(data=DatabasePublic.of(await ctx.run(databases.get_database, database_id)))


@router.patch("/{database_id}", response_model=Data[DatabasePublic], summary="Rename or re-tag")
async def update_database(database_id: str, body: DatabaseUpdate,
                          ctx: Writer) -> Data[DatabasePublic]:
    return Data(data=DatabasePublic.of(await ctx.run(databases.update_database, database_id,
                                                     body)))


@router.delete("/{database_id}", summary="Delete a database")
async def delete_database(database_id: str, ctx: Writer) -> Data[Deleted]:
    database = await ctx.run(databases.delete_database, database_id, ctx.env)
    return Data(data=Deleted(id=database.id, object="database", deleted=True))


@router.get("/{database_id}/credentials", response_model=Data[DatabaseCredentials],
            summary="How to connect: a URL with the password (only here)")
async def database_credentials(database_id: str,
                               ctx: Writer) -> Data[DatabaseCredentials]:
    found = await ctx.run(databases.credentials, database_id, ctx.env)
    return Data(data=DatabaseCredentials(**found.__dict__))


@router.post("/{database_id}/stop", response_model=Data[DatabasePublic],
             summary="Stop: no new connections, open ones end")
async def stop_database(database_id: str, ctx: Writer) -> Data[DatabasePublic]:
    return Data(data=DatabasePublic.of(await ctx.run(databases.stop_database, database_id,
                                                     ctx.env)))


@router.post("/{database_id}/start", response_model=Data[DatabasePublic],
             summary="Start a stopped database")
async def start_database(database_id: str, ctx: Writer) -> Data[DatabasePublic]:
    return Data(data=DatabasePublic.of(await ctx.run(databases.start_database, database_id,
                                                     ctx.env)))
