"""The web console: server-rendered pages (Jinja2, enhanced by a vendored htmx) on the API's port,
calling the same services as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# Console forms that carry an image (the API's upload limit applies to them too).
UPLOAD_PATHS = ("^/branding/wallpaper$", "^/branding/logo$")


def install(app: FastAPI) -> None:
    """Mount the console's pages at / and its assets at /static/console."""
    from hostplane.console import (
        pages_activity,
        pages_branding,
        pages_domains,
        pages_resources,
        pages_sandbox,
        pages_signin,
        pages_tokens,
    )

    app.mount("/static/console", StaticFiles(directory=STATIC), name="console-static")
    for module in (pages_signin, pages_resources, pages_sandbox, pages_domains, pages_branding,
                   pages_tokens, pages_activity):
        app.include_router(module.router)
