"""`hostplane branding …` and `hostplane browser-tokens …`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hostplane.cli._api import JsonFlag, api_command, client, console, emit_json, fields, table

branding = typer.Typer(help="What your users see: names, logo, colours, wallpaper.",
                       no_args_is_help=True)
browser_tokens = typer.Typer(help="Short-lived, scoped tokens for end users' browsers.",
                             no_args_is_help=True)
SHOWN = ("product_name", "logo_url", "favicon_url", "support_url", "support_email",
         "primary_color", "background_color", "desktop_wallpaper_url", "powered_by_visible")
Opt = Annotated[str | None, typer.Option()]


@branding.command("show")
@api_command
def branding_show(as_json: JsonFlag = False) -> None:
    """Show the branding."""
    with client() as hp:
        found = hp.branding.get()
    emit_json(found) if as_json else fields(found, (*SHOWN, "wallpaper", "logo"))


@branding.command("set")
@api_command
def branding_set(app_name: Opt = None, logo_url: Opt = None, favicon_url: Opt = None,
                 support_url: Opt = None, support_email: Opt = None, primary_color: Opt = None,
                 background_color: Opt = None, wallpaper_url: Opt = None,
                 powered_by: Annotated[bool | None, typer.Option(
                     "--powered-by/--no-powered-by", help="Show 'Powered by'.")] = None,
                 as_json: JsonFlag = False) -> None:
    """Change branding; only the options given change."""
    changes = {"product_name": app_name, "logo_url": logo_url, "favicon_url": favicon_url,
               "support_url": support_url, "support_email": support_email,
               "primary_color": primary_color, "background_color": background_color,
               "desktop_wallpaper_url": wallpaper_url, "powered_by_visible": powered_by}
    with client() as hp:
        found = hp.branding.set(**{k: v for k, v in changes.items() if v is not None})
    emit_json(found) if as_json else fields(found, SHOWN)


def _upload(kind: str, path: Path, as_json: bool) -> None:
    data = path.read_bytes()
    content_type = "image/jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "image/png"
    with client() as hp:
        found = getattr(hp.branding, f"upload_{kind}")(data, content_type)
    if as_json:
        emit_json(found)
        return
    asset = getattr(found, kind)
    console.print(f"{kind}: {asset['width']}×{asset['height']} {asset['content_type']} at "
                  f"{asset['url']}", highlight=False)
    for warning in asset.get("warnings", []):
        console.print(f"[yellow]warning[/yellow] {warning}", highlight=False)


File = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A PNG or JPEG file.")]


@branding.command("wallpaper")
@api_command
def branding_wallpaper(file: File, as_json: JsonFlag = False) -> None:
    """Upload the desktop wallpaper (PNG or JPEG, at most 5 MB; 1920×1080 recommended)."""
    _upload("wallpaper", file, as_json)


@branding.command("logo")
@api_command
def branding_logo(file: File, as_json: JsonFlag = False) -> None:
    """Upload the logo (PNG or JPEG, at most 5 MB)."""
    _upload("logo", file, as_json)


@browser_tokens.command("create")
@api_command
def tokens_create(
    permission: Annotated[list[str], typer.Option("--permission", "-p",
                                                  help="e.g. sandbox:read (repeat for more).")],
    workspace_id: Opt = None, project_id: Opt = None, external_workspace_id: Opt = None,
    external_user_id: Opt = None,
    ttl: Annotated[int | None, typer.Option(help="Seconds, 30–86400 (default 900).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Mint a browser token (print it only to hand it to a page)."""
    with client() as hp:
        token = hp.browser_tokens.create(permission, workspace_id=workspace_id,
                                         project_id=project_id,
                                         external_workspace_id=external_workspace_id,
                                         external_user_id=external_user_id, ttl_seconds=ttl)
    if as_json:
        emit_json(token)
    else:
        console.print(f"token {token.id}, expires {token.expires_at:%Y-%m-%d %H:%M:%S} UTC",
                      highlight=False)
        print(token.token)


@browser_tokens.command("list")
@api_command
def tokens_list(as_json: JsonFlag = False) -> None:
    """List tokens issued (never the tokens themselves)."""
    with client() as hp:
        found = list(hp.browser_tokens.iter())
    emit_json(found) if as_json else table(
        found, ("id", "status", "external_user_id", "workspace_id", "permissions", "expires_at"))


@browser_tokens.command("revoke")
@api_command
def tokens_revoke(
    token_id: Annotated[str | None, typer.Argument(help="The token's id (jti).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Revoke every token this external "
                                                            "user holds now.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke one token, or (--user) every token of an end user."""
    with client() as hp:
        if user:
            result = hp.browser_tokens.revoke_user(user)
            message = f"revoked {result['revoked']} token(s) of {user}"
        elif token_id:
            result = hp.browser_tokens.revoke(token_id)
            message = f"revoked {token_id}"
        else:
            raise typer.BadParameter("give a token id, or --user")
    emit_json(result) if as_json else console.print(message)
