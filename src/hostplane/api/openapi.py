"""Adds what FastAPI cannot see in the routes to the OpenAPI document: bearer authentication
(done by middleware) and the Idempotency-Key header every POST under /api/v1 honours."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

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
                                 description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "An API key: msk_live_…"}
            }
            for path, operations in schema.get("paths", {}).items():
                if not path.startswith(prefix):
                    continue
                for method, operation in operations.items():
                    operation["security"] = [{"apiKey": []}]
                    if method == "post":
                        operation.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
