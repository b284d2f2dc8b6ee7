"""The OpenAPI document and its pages: readable operation ids (`createSandbox`), a description
per tag, what FastAPI cannot see in the routes (bearer authentication, done by middleware, and
the Idempotency-Key header every POST under /api/v1 honours), and /docs served with Swagger UI
from a Python package, so it works without internet access."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

DOCS_ASSETS = "/docs/assets"

TAGS = [
    {"name": "organizations", "description": "The organization an API key belongs to: its name "
     "fixes a permanent slug, once (setup); the setup checklist."},
    {"name": "organization domains", "description": "The organization's own preview domain "
     "(sandbox previews) and deployment domain (published apps), with the DNS records to "
     "create and their verification."},
    {"name": "workspaces", "description": "One workspace per downstream customer, found again "
     "by external_workspace_id."},
    {"name": "projects", "description": "The things a workspace builds; every workspace has a "
     "default project."},
    {"name": "sandboxes", "description": "Isolated places to run code: create, list, and their "
     "lifecycle (stop, start, pause, resume)."},
    {"name": "sandbox processes", "description": "Commands in a sandbox: run one and wait, "
     "stream its output, or start one in the background and read its logs."},
    {"name": "sandbox files", "description": "Read, write and list a sandbox's files."},
    {"name": "sandbox previews", "description": "A port of a sandbox at its preview URL."},
    {"name": "databases", "description": "Databases owned by a project, with credentials to "
     "connect."},
    {"name": "deployments", "description": "Published apps: their URLs on every layer, their "
     "versions, publishing, promotion and rollback."},
    {"name": "computers", "description": "Desktop computers and their desktop URLs."},
    {"name": "custom domains", "description": "Exact domains a customer owns, attached to a "
     "deployment, computer, project or sandbox, proven with DNS."},
    {"name": "branding", "description": "The product name, logos, wallpaper and support link "
     "end users see."},
    {"name": "browser tokens", "description": "Short-lived, scoped tokens your backend mints "
     "for end users' browsers (never hand them an API key)."},
    {"name": "api keys", "description": "The organization's API keys; a secret is shown once."},
    {"name": "usage", "description": "Resource counts and runtime per workspace and project, "
     "for chargeback."},
    {"name": "audit log", "description": "Changes made with the organization's credentials."},
    # Areas arriving on main as this is written (their routers carry these tags).
    {"name": "events", "description": "What happened to the organization's resources: the log, "
     "filtered and paged, or a live stream of server-sent events."},
    {"name": "webhooks", "description": "Endpoints of yours that receive events, signed with a "
     "secret shown once, with their delivery history."},
    {"name": "health", "description": "Whether the server takes requests."},
]


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase: `create_sandbox` → `createSandbox`."""
    head, *rest = route.name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


CAMEL_CASE = re.compile(r"[a-z][a-zA-Z0-9]*")

IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Repeat a POST safely: the same key, route and body return the first 2xx "
    "result (header Idempotent-Replayed: true) for 24 h; another body with the key is 422 "
    "IDEMPOTENCY_KEY_REUSED.",
    "schema": {"type": "string", "maxLength": 255},
}


def install(app: FastAPI, *, prefix: str) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes,
                                 tags=app.openapi_tags, servers=app.servers)
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "An API key: msk_live_…"}
            }
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    _describe_success(operation)
                    if not path.startswith(prefix):
                        continue
                    operation["security"] = [{"apiKey": []}]
                    if method == "post":
                        operation.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
            app.openapi_schema = _named_schemas(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    _docs(app)


SUCCESS = {"200": "OK", "201": "Created: the new object", "202": "Accepted", "204": "Done"}


def _describe_success(operation: dict[str, Any]) -> None:
    """Success answers say what they are rather than FastAPI's "Successful Response"."""
    for status, answer in operation.get("responses", {}).items():
        if answer.get("description") == "Successful Response" and status in SUCCESS:
            answer["description"] = SUCCESS[status]


def _named_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """Envelopes under the names their models give them (`DeploymentData`, `DeploymentPage`),
    not pydantic's spelling of the generic (`Data_DeploymentPublic_`)."""
    found = schema.get("components", {}).get("schemas", {})
    renames = {old: body["title"] for old, body in found.items()
               if old.startswith(("Data_", "DataList_")) and body.get("title")
               and body["title"] not in found}
    if not renames:
        return schema
    text = json.dumps(schema)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    renamed: dict[str, Any] = json.loads(text)
    schemas = renamed["components"]["schemas"]
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
    renamed["components"]["schemas"] = dict(sorted(schemas.items()))
    return renamed


def _docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the assets a Python package vendors (fastapi-offline), so the
    page loads without internet access and asks no other host for anything."""
    import fastapi_offline

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url="data:,",  # none: a default would be fetched from elsewhere
            # No validator badge: Swagger UI would send the document to an outside service.
            swagger_ui_parameters={"validatorUrl": None})
