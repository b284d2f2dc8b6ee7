"""GET /events (the log, with filters and an id cursor) and GET /events/stream (server-sent
events, `types` globs, resumed with Last-Event-ID)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import threading

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from hostplane import errors
from hostplane.api import sse
from hostplane.api.auth import authenticate
from hostplane.api.deps import RequestContext, container_of, needs
from hostplane.api.envelopes import DataList, ListMeta
from hostplane.db.helpers import MAX_PAGE
from hostplane.events.schemas import EventPublic
from hostplane.events.service import EventFilters, latest_id, list_events, parse_types
from hostplane.inputs import Moment

router = APIRouter(tags=["events"])

Reader = Annotated[RequestContext, needs("event:read")]
Text = Annotated[str | None, Query(max_length=200)]
Types = Annotated[str | None, Query(max_length=2000, description=(
    "Comma-separated type patterns, e.g. `sandbox.*,domain.verified` (`*` is a whole word)."))]
After = Annotated[int | None, Query(ge=0, description="Only events after this event id.")]
STREAM_BATCH = 100
RECHECK_POLLS = 20  # when idle, about every 5 s; always before sending


@router.get("/events", response_model=DataList[EventPublic],
            summary="What happened to this organization's objects, oldest first")
async def events(
    ctx: Reader, types: Types = None, after: After = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^\d+$",
                                        description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    object_type: Text = None, object_id: Text = None, workspace_id: Text = None,
    project_id: Text = None, external_workspace_id: Text = None,
    external_project_id: Text = None,
    since: Annotated[Moment | None, Query(description="ISO 8601 with a zone")] = None,
) -> DataList[EventPublic]:
    """Events in commit order. Page with `after` (an event id), or pass `next_cursor` back as
    `cursor`; an empty page with `next_cursor` null means nothing newer yet."""
    filters = EventFilters(parse_types(types), object_type, object_id, workspace_id, project_id,
                           external_workspace_id, external_project_id, since)
    start = int(cursor) if cursor is not None else after
    found = await ctx.run(list_events, filters, after=start, limit=limit)
    return DataList(data=[EventPublic.of(e) for e in found],
                    next_cursor=str(found[-1].id) if len(found) == limit else None,
                    meta=ListMeta(total=len(found), page=1, per_page=limit))


@router.get("/events/stream", response_class=StreamingResponse, responses=sse.RESPONSES,
            summary="Events as they happen (server-sent events)")
async def event_stream(
    ctx: Reader, request: Request, types: Types = None, after: After = None,
    last_event_id: Annotated[str | None, Header(max_length=20, pattern=r"^\d+$")] = None,
    follow: Annotated[bool, Query(description="false: end once the backlog is sent")] = True,
) -> StreamingResponse:
    """Each event is one frame: `id` (resume with `Last-Event-ID`, or `after`), `event` (its
    type) and `data` (the event as JSON). Without either, the stream starts with events newer
    than the request. A comment every 15 s of silence keeps proxies from closing it. The stream
    ends when the server stops; reconnect with Last-Event-ID."""
    filters = EventFilters(parse_types(types))
    start = int(last_event_id) if last_event_id is not None else after
    if start is None:
        start = await ctx.run(latest_id)
    headers = {k: v.decode("latin-1") for k, v in request.scope["headers"]
               if k in (b"authorization", b"x-miosa-tenant", b"origin")}
    container = container_of(request)
    frames = _frames(ctx, filters, start, follow,
                     lambda: authenticate(container, headers), container.stopping)
    return StreamingResponse(frames, media_type=sse.MEDIA_TYPE,
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _frames(ctx: RequestContext, filters: EventFilters, cursor: int, follow: bool,
                  still_allowed: Callable[[], Awaitable[object]],
                  stopping: threading.Event) -> AsyncIterator[bytes]:
    polls = 0
    # The server stopping ends the stream cleanly, after a whole event: the client reconnects
    # with Last-Event-ID to a process that still serves (api/shutdown.py).
    while not stopping.is_set():
        polls += 1
        # Up to the newest event now: events of other types move the cursor too, so a filter
        # that matches little never rescans the log.
        top = await ctx.run(latest_id)
        found = await ctx.run(list_events, filters, after=cursor, limit=STREAM_BATCH, until=top)
        if found or polls % RECHECK_POLLS == 0:
            try:  # a key or token revoked (or expired) since the stream began ends it
                await still_allowed()
            except errors.HostplaneError:
                return
        for event in found:
            body = EventPublic.of(event).model_dump_json()
            yield f"id: {event.id}\nevent: {event.type}\ndata: {body}\n\n".encode()
            cursor = event.id
        if len(found) == STREAM_BATCH:
            continue
        cursor = max(cursor, top)
        if not follow:
            return
        if not found and polls % sse.KEEPALIVE_POLLS == 0:
            yield b": keepalive\n\n"
        await anyio.sleep(sse.POLL_SECONDS)
