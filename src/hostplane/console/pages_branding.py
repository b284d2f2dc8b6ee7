"""The branding editor: every field, a live preview as it is typed (htmx), and wallpaper and
logo uploads, through the same branding service (and its checks of hostile CSS) as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from hostplane import errors
from hostplane.branding import rules, service
from hostplane.branding.assets import MAX_BYTES, check_image
from hostplane.branding.schemas import BrandingBody, BrandingPublic
from hostplane.console.web import ConsoleRoute, Page, container_of, redirect
from hostplane.resources.storage import check_room

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FIELDS = ("product_name", "logo_url", "favicon_url", "support_url", "support_email",
          "primary_color", "background_color", "custom_css")


async def _fields(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = form.get(name)
        text = value.strip() if isinstance(value, str) else ""
        values[name] = (value if name == "custom_css" and isinstance(value, str) and text
                        else text) or None
    values["powered_by_visible"] = form.get("powered_by_visible") == "on"
    return values


@router.get("/branding")
async def branding_page(con: Page) -> HTMLResponse:
    con.need("branding:read")
    current = BrandingPublic.of(await con.run(service.get_branding))
    return con.page("branding.html", current=current, problems=[], preview=current)


@router.post("/branding")
async def branding_save(con: Page, request: Request) -> Response:
    con.need("branding:write")
    try:
        body = BrandingBody(**await _fields(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise errors.Invalid(f"{field}: {first.get('msg', 'invalid')}.", field=field,
                             rule=first.get("msg", "invalid"), fix=f"Correct {field}.") from None
    await con.run(service.update_branding, body.sent(), con.ctx.now)
    await con.audit("branding.update", "branding", None, 303)
    return redirect("/branding")


@router.post("/branding/preview")
async def branding_preview(con: Page, request: Request) -> HTMLResponse:
    """What the branding would look like, checked field by field as the service checks it; a
    field that would be refused is shown as its refusal, never applied."""
    con.need("branding:read")
    values, problems = await _fields(request), []
    checks = {"logo_url": rules.url, "primary_color": rules.color,
              "background_color": rules.color, "support_url": rules.url}
    for name, check in checks.items():
        if values.get(name):
            try:
                values[name] = check(values[name], name)
            except errors.HostplaneError as exc:
                problems.append(exc)
                values[name] = None
    values.pop("custom_css", None)  # previewed once saved (and checked) only
    current = BrandingPublic.of(await con.run(service.get_branding))
    preview = current.model_copy(update={**values, "app_name": values.get("product_name")})
    return con.page("_brand_preview.html", preview=preview, problems=problems)


async def _upload(kind: str, con: Any, request: Request) -> Response:
    con.need("branding:write")
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get("file")
    data = await upload.read(MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not data:
        raise errors.Invalid("The form has no image.", field="file",
                             rule="a PNG or JPEG file", fix="Choose an image file and upload it.")
    image = check_image(data, kind)
    await con.run(check_room, con.ctx.env.capacity.storage_quota_mb, len(data), f"The {kind}")
    store = container_of(request).assets
    url = await con.call(store.save, con.ctx.principal.tenant_id, image, data)
    await con.run(service.record_asset, kind, url, image, "upload", con.ctx.now,
                  forget=store.forget)
    await con.audit(f"branding.upload_{kind}", "branding", None, 303)
    return redirect("/branding")


@router.post("/branding/wallpaper")
async def wallpaper_upload(con: Page, request: Request) -> Response:
    return await _upload(service.WALLPAPER, con, request)


@router.post("/branding/logo")
async def logo_upload(con: Page, request: Request) -> Response:
    return await _upload(service.LOGO, con, request)
