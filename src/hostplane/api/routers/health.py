"""Public routes that need no credential."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: 200 once migrations are applied and requests are taken")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
