"""How every area router is made: with the Idempotency-Key route class.

FastAPI keeps a route's own class when a router is included in another, so the class has to be
set on each area router rather than once on the /api/v1 router.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hostplane.api.idempotency import IdempotentRoute


def area_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=IdempotentRoute, **kwargs)
