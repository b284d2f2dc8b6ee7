"""The computer-use API under `/computers/{id}/desktop/…`, as the official client calls it
(`miosa/resources/desktop.py`): PNG screenshots, input actions answered as ActionResponse,
cursor, screen size, windows, launch, clipboard, wallpaper and the environment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from hostplane import errors
from hostplane.api.deps import RequestContext, needs
from hostplane.resources import desktop, desktop_windows
from hostplane.resources.computer_schemas import ActionResponse

router = APIRouter(prefix="/computers/{computer_id}/desktop", tags=["computers"])

Reader = Annotated[RequestContext, needs("computer:read")]
Controller = Annotated[RequestContext, needs("computer:control")]
Json = Annotated[dict[str, Any], Body(default_factory=dict)]
_PNG = {200: {"content": {"image/png": {}}, "description": "A PNG image of the screen."}}


def _ok(computer_id: str, message: str) -> ActionResponse:
    return ActionResponse(id=computer_id, status="running", message=message)


@router.get("/screenshot", response_class=Response, responses=_PNG, summary="Screenshot (PNG)")
async def screenshot(computer_id: str, ctx: Reader) -> Response:
    data = await ctx.run(desktop.screenshot, computer_id, ctx.env)
    return Response(data, media_type="image/png", headers={"cache-control": "no-store"})


@router.post("/screenshot/region", response_class=Response, responses=_PNG,
             summary="Screenshot of a region (PNG)")
async def screenshot_region(computer_id: str, ctx: Reader, body: Json) -> Response:
    region = tuple(desktop._int(body, k) for k in ("x", "y", "width", "height"))
    data = await ctx.run(desktop.screenshot, computer_id, ctx.env, region)
    return Response(data, media_type="image/png", headers={"cache-control": "no-store"})


_ACTIONS = ("click", "double-click", "mouse-down", "mouse-up", "move", "drag", "scroll", "type",
            "key", "hotkey", "key-down", "key-up", "wait")


def _action_route(action: str) -> None:
    async def handler(computer_id: str, ctx: Controller, body: Json) -> ActionResponse:
        message = await ctx.run(desktop.act, computer_id, ctx.env, action, body)
        return _ok(computer_id, message)

    handler.__name__ = f"desktop_{action.replace('-', '_')}"
    router.add_api_route(f"/{action}", handler, methods=["POST"], response_model=ActionResponse,
                         summary=f"Desktop: {action}")


for _action in _ACTIONS:
    _action_route(_action)


@router.get("/cursor", summary="Cursor position")
async def cursor(computer_id: str, ctx: Reader) -> dict[str, int]:
    return await ctx.run(desktop_windows.cursor, computer_id, ctx.env)


@router.get("/screen-size", summary="Screen size")
async def screen_size(computer_id: str, ctx: Reader) -> dict[str, int]:
    width, height = await ctx.run(desktop.screen_size, computer_id, ctx.env)
    return {"width": width, "height": height}


@router.get("/environment", summary="The desktop environment")
async def environment(computer_id: str, ctx: Reader) -> dict[str, Any]:
    width, height = await ctx.run(desktop.screen_size, computer_id, ctx.env)
    return {"name": "openbox", "session_type": "x11", "resolution": f"{width}x{height}",
            "width": width, "height": height, "color_depth": 24, "display": ":1"}


@router.get("/accessibility-tree", summary="Accessibility tree (windows only)")
async def accessibility_tree(computer_id: str, ctx: Reader) -> dict[str, Any]:
    windows = await ctx.run(desktop_windows.windows, computer_id, ctx.env)
    return {"role": "desktop", "name": "desktop", "children": [
        {"role": "window", "name": w["title"], "id": w["id"],
         "bounds": [w["x"], w["y"], w["width"], w["height"]], "children": []} for w in windows]}


@router.get("/windows", summary="Open windows")
async def windows(computer_id: str, ctx: Reader) -> dict[str, Any]:
    return {"data": await ctx.run(desktop_windows.windows, computer_id, ctx.env)}


@router.post("/window/focus", response_model=ActionResponse, summary="Focus a window")
async def focus_window(computer_id: str, ctx: Controller, body: Json) -> ActionResponse:
    window = str(body.get("window_id", ""))
    await ctx.run(desktop_windows.window_action, computer_id, ctx.env, window, "focus", body)
    return _ok(computer_id, f"Focused window {window}.")


@router.get("/window/{window_id}/size", summary="A window's size")
async def window_size(computer_id: str, window_id: str, ctx: Reader) -> dict[str, int]:
    found = await ctx.run(desktop_windows.window, computer_id, ctx.env, window_id)
    return {"width": found["width"], "height": found["height"]}


@router.get("/window/{window_id}/position", summary="A window's position")
async def window_position(computer_id: str, window_id: str, ctx: Reader) -> dict[str, int]:
    found = await ctx.run(desktop_windows.window, computer_id, ctx.env, window_id)
    return {"x": found["x"], "y": found["y"]}


@router.post("/window/{window_id}/{verb}", response_model=ActionResponse,
             summary="Resize, move, maximize, minimize or close a window")
async def window_verb(computer_id: str, window_id: str, verb: str, ctx: Controller,
                      body: Json) -> ActionResponse:
    if verb not in desktop_windows.VERBS:
        raise errors.NotFound(f"No window action {verb!r}.", code="NOT_FOUND",
                              fix=f"Use one of {', '.join(desktop_windows.VERBS)}.")
    await ctx.run(desktop_windows.window_action, computer_id, ctx.env, window_id, verb, body)
    return _ok(computer_id, f"Window {window_id}: {verb}.")


@router.post("/launch", response_model=ActionResponse, summary="Launch an app")
async def launch(computer_id: str, ctx: Controller, body: Json) -> ActionResponse:
    app = body.get("app", body.get("app_name"))
    pid = await ctx.run(desktop_windows.launch, computer_id, ctx.env, app)
    return _ok(computer_id, f"Launched {app} (pid {pid}).")


@router.get("/clipboard", summary="Clipboard text")
async def get_clipboard(computer_id: str, ctx: Reader) -> dict[str, str]:
    return {"text": await ctx.run(desktop_windows.clipboard, computer_id, ctx.env, None)}


@router.post("/clipboard", response_model=ActionResponse, summary="Set the clipboard text")
async def set_clipboard(computer_id: str, ctx: Controller, body: Json) -> ActionResponse:
    await ctx.run(desktop_windows.clipboard, computer_id, ctx.env, body.get("text"))
    return _ok(computer_id, "Clipboard set.")


@router.post("/wallpaper", response_model=ActionResponse, summary="Set the wallpaper")
async def wallpaper(computer_id: str, ctx: Controller, body: Json) -> ActionResponse:
    await ctx.run(desktop_windows.wallpaper, computer_id, ctx.env, body.get("path"))
    return _ok(computer_id, "Wallpaper set.")
