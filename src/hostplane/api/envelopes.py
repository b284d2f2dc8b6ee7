"""Response envelopes and list paging parameters shared by every router."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from fastapi import Depends, Query
from pydantic import BaseModel

from hostplane.db.helpers import MAX_PAGE

T = TypeVar("T")


def _schema_name(kind: Any) -> str:
    """`DeploymentPublic` → `Deployment`, `list[X]` → `XList`, a dict → `Object`."""
    if get_origin(kind) is list:
        return _schema_name(get_args(kind)[0]) + "List"
    if get_origin(kind) is dict or kind is dict:
        return "Object"
    return str(getattr(kind, "__name__", kind)).removesuffix("Public")


class Data(BaseModel, Generic[T]):
    """`{"data": …}`: one object (in the OpenAPI document `DeploymentData`, …)."""

    data: T

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return f"{_schema_name(params[0])}Data"


class Deleted(BaseModel):
    """What a delete answers."""

    id: str
    object: str
    deleted: bool


class ListMeta(BaseModel):
    total: int
    page: int
    per_page: int


class DataList(BaseModel, Generic[T]):
    """One page of a list (in the OpenAPI document `DeploymentPage`, …)."""

    data: list[T]
    next_cursor: str | None = None
    meta: ListMeta

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return f"{_schema_name(params[0])}Page"


class PageParams(BaseModel):
    limit: int
    cursor: str | None
    offset: int

    def meta(self, total: int) -> ListMeta:
        return ListMeta(total=total, page=self.offset // self.limit + 1, per_page=self.limit)


async def page_params(
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE, description="Items per page.")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
    page: Annotated[int | None, Query(ge=1, le=1_000_000, description="Page number.")] = None,
    per_page: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
) -> PageParams:
    size = limit or per_page or 50
    if page is not None and not offset:
        offset = (page - 1) * size
    return PageParams(limit=size, cursor=cursor, offset=offset)


Paging = Annotated[PageParams, Depends(page_params)]
