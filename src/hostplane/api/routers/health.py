"""Public routes that need no credential: liveness, readiness, and metrics (by network)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from hostplane.api.deps import container_of
from hostplane.api.routers.tls import allowed
from hostplane.db.migrate import pending_migrations

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: 200 once migrations are applied and requests are taken")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers and its schema is current",
            responses={503: {"description": "Not ready: `checks` says what is wrong"}})
async def readyz(request: Request) -> JSONResponse:
    container = container_of(request)
    checks: dict[str, str] = {}
    try:
        behind = await run_in_threadpool(pending_migrations, container.database)
        checks["database"] = "ok"
        checks["migrations"] = "current" if not behind else f"{len(behind)} not applied"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said plainly
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "unknown"
    ready = checks == {"database": "ok", "migrations": "current"}
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503,
                        headers={} if ready else {"Retry-After": "5"})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    container = container_of(request)
    peer = request.client.host if request.client else None
    if not allowed(peer, container.settings.metrics_allow):
        raise HTTPException(status_code=404)  # outsiders learn nothing, as for any unknown path
    body = await run_in_threadpool(generate_latest, container.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
