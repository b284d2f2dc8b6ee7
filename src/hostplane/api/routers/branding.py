"""Tenant branding (spec §8, contract §14) at /tenant/branding and /settings/branding, the
wallpaper and logo uploads, and the public route that serves uploaded images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from hostplane import errors
from hostplane.api.deps import RequestContext, container_of, needs
from hostplane.branding import service
from hostplane.branding.assets import MAX_BYTES, check_image
from hostplane.branding.schemas import BrandingBody, BrandingPublic
from hostplane.resources import desktop
from hostplane.resources.storage import check_room

router = APIRouter(tags=["branding"])
public = APIRouter(tags=["branding"])

Reader = Annotated[RequestContext, needs("branding:read")]
Writer = Annotated[RequestContext, needs("branding:write")]
UPLOAD_SUFFIXES = ("/tenant/branding/wallpaper", "/tenant/branding/logo")


async def get_branding(ctx: Reader) -> BrandingPublic:
    return BrandingPublic.of(await ctx.run(service.get_branding))


async def set_branding(body: BrandingBody, ctx: Writer, request: Request,
                       after: BackgroundTasks) -> BrandingPublic:
    record = await ctx.run(service.update_branding, body.sent(), ctx.now)
    _desktops_follow(request, ctx, after)
    return BrandingPublic.of(record)


async def reset_branding(ctx: Writer, request: Request, after: BackgroundTasks) -> BrandingPublic:
    await ctx.run(service.reset_branding, container_of(request).assets.remove_all)
    _desktops_follow(request, ctx, after)
    return BrandingPublic.of(None)


def _desktops_follow(request: Request, ctx: RequestContext, after: BackgroundTasks) -> None:
    """Running desktops take the new wallpaper once the change is committed (after the
    response; resources/desktop.py)."""
    after.add_task(desktop.refresh_wallpapers, container_of(request), ctx.principal.tenant_id)


# Client quirk: the SDKs use both (operation ids getBranding, getSettingsBranding, …).
for base, kind in (("/tenant/branding", ""), ("/settings/branding", "_settings")):
    router.add_api_route(base, get_branding, methods=["GET"], response_model=BrandingPublic,
                         summary="The organization's branding (every alias of every field)",
                         name=f"get{kind}_branding")
    router.add_api_route(base, set_branding, methods=["PUT"], response_model=BrandingPublic,
                         summary="Change branding: a merge; flat or {\"branding\": {...}} bodies",
                         name=f"set{kind}_branding")
    router.add_api_route(base, reset_branding, methods=["DELETE"], response_model=BrandingPublic,
                         summary="Back to the platform's defaults", name=f"reset{kind}_branding")

UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}}}


async def _upload(kind: str, ctx: RequestContext, request: Request) -> BrandingPublic:
    data = await _image_bytes(request)
    image = check_image(data, kind)
    await ctx.run(check_room, ctx.env.capacity.storage_quota_mb, len(data), f"The {kind}")
    store = container_of(request).assets
    url = await ctx.call(store.save, ctx.principal.tenant_id, image, data)
    record = await ctx.run(service.record_asset, kind, url, image, "upload", ctx.now,
                           forget=store.forget)
    return BrandingPublic.of(record)


async def _image_bytes(request: Request) -> bytes:
    """The raw body, or the first file of a multipart form (field `file` preferred)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file") or next(
            (v for v in form.values() if isinstance(v, UploadFile)), None)
        if not isinstance(upload, UploadFile):
            raise errors.Invalid("The form has no file.", field="file",
                                 rule="a multipart form with the image in field `file`",
                                 fix="curl -F file=@wallpaper.png …")
        data = await upload.read(MAX_BYTES + 1)
    else:
        data = await request.body()
    if not data:
        raise errors.Invalid("The request has no image.", field="file",
                             rule="the image as the body, or as `file` in a multipart form",
                             fix="curl --data-binary @wallpaper.png -H 'Content-Type: "
                                 "image/png' …")
    return data


@router.put("/tenant/branding/wallpaper", response_model=BrandingPublic, openapi_extra=UPLOAD_BODY,
            summary="Upload the desktop wallpaper (PNG or JPEG, at most 5 MB; 1920×1080 "
                    "recommended)")
async def upload_wallpaper(ctx: Writer, request: Request,
                           after: BackgroundTasks) -> BrandingPublic:
    found = await _upload(service.WALLPAPER, ctx, request)
    _desktops_follow(request, ctx, after)
    return found


@router.put("/tenant/branding/logo", response_model=BrandingPublic, openapi_extra=UPLOAD_BODY,
            summary="Upload the logo (PNG or JPEG, at most 5 MB)")
async def upload_logo(ctx: Writer, request: Request) -> BrandingPublic:
    return await _upload(service.LOGO, ctx, request)


@public.get("/assets/branding/{tenant_id}/{name}", summary="An uploaded branding image",
            response_class=FileResponse)
async def branding_asset(tenant_id: str, name: str, request: Request) -> FileResponse:
    path = container_of(request).assets.path(tenant_id, name)
    if path is None:
        raise errors.NotFound("No such image.", code="ASSET_NOT_FOUND",
                              fix="Use the URL the branding record gives.")
    media = "image/png" if name.endswith(".png") else "image/jpeg"
    return FileResponse(path, media_type=media, headers={
        "cache-control": "public, max-age=31536000, immutable",
        "x-content-type-options": "nosniff"})
