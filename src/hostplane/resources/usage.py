"""Usage and chargeback (spec "See also"; contract §16): resource counts and runtime seconds per
workspace, external user or external project, over a period; and the organization's storage now
(`resources/storage.py`).

A resource counts in a period if it existed at any moment of it; its runtime is the part of
[started_at, destroyed_at or now] inside the period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.resources.models import Computer, Database, Deployment, OwnedResource, Sandbox
from hostplane.resources.storage import storage_usage
from hostplane.tenancy.models import Project
from hostplane.tenancy.projects import get_project
from hostplane.tenancy.workspaces import get_workspace

GROUPS = ("workspace_id", "external_user_id", "external_project_id")
KINDS: dict[str, type[OwnedResource]] = {
    "sandboxes": Sandbox, "databases": Database, "deployments": Deployment, "computers": Computer,
}
PERIODS = ("7d", "30d", "month-to-date")


def period_bounds(period: str | None, start: datetime | None, end: datetime | None,
                  now: datetime) -> tuple[datetime, datetime]:
    """The period asked for: explicit start/end, or one of PERIODS (month-to-date by default)."""
    if start or end:
        start, end = start or now - timedelta(days=30), end or now
        if start >= end:
            raise errors.Invalid("start must be before end.", field="start",
                                 rule="start < end", fix="Swap them, or drop one.")
        return start, end
    if period in (None, "month-to-date"):
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now
    return now - timedelta(days=int(period.rstrip("d"))), now


def usage(scope: Scope, group_by: str, start: datetime, end: datetime, now: datetime, *,
          storage_quota_mb: int, external_user_id: str | None = None) -> dict[str, Any]:
    groups: dict[str | None, dict[str, Any]] = defaultdict(lambda: _row())
    for kind, model in KINDS.items():
        column = getattr(model, group_by)
        stmt = (
            select(column, model.started_at, model.destroyed_at)
            .where(model.tenant_id == scope.tenant_id, model.created_at < end,
                   or_(model.destroyed_at.is_(None), model.destroyed_at >= start))
        )
        if external_user_id is not None:
            stmt = stmt.where(model.external_user_id == external_user_id)
        for group, started, destroyed in scope.session.execute(stmt):
            row = groups[group]
            row[kind] += 1
            row["runtime_seconds"] += _overlap(started, destroyed or now, start, end)
    results = [
        {"group": group, group_by: group, **_rounded(row)}
        for group, row in sorted(groups.items(), key=lambda item: str(item[0] or ""))
    ]
    return {"period_start": start, "period_end": end, "group_by": group_by, "results": results,
            "storage": storage_usage(scope, storage_quota_mb)}


def workspace_usage(scope: Scope, workspace_id: str, now: datetime) -> dict[str, Any]:
    """What a workspace holds now, and the runtime its resources have used in all."""
    workspace = get_workspace(scope, workspace_id)
    projects = scope.session.scalar(select(func.count()).select_from(
        scope.select(Project).where(Project.workspace_id == workspace.id).subquery()))
    return {"workspace_id": workspace.id,
            "external_workspace_id": workspace.external_workspace_id,
            "projects": projects or 0, **_live(scope, "workspace_id", workspace.id, now)}


def project_summary(scope: Scope, project_id: str, now: datetime) -> dict[str, Any]:
    project = get_project(scope, project_id)
    return {"project_id": project.id, "workspace_id": project.workspace_id,
            "production_deployment_id": project.production_deployment_id,
            **_live(scope, "project_id", project.id, now)}


def _live(scope: Scope, column: str, value: str, now: datetime) -> dict[str, Any]:
    row = _row()
    for kind, model in KINDS.items():
        # scope.select: a browser token counts only what its limit lets it see.
        rows = scope.select(model).where(getattr(model, column) == value).subquery()
        stmt = select(rows.c.started_at, rows.c.destroyed_at)
        for started, destroyed in scope.session.execute(stmt):
            row[kind] += destroyed is None
            if started is not None:
                row["runtime_seconds"] += ((destroyed or now) - started).total_seconds()
    return _rounded(row)


def _row() -> dict[str, Any]:
    return {kind: 0 for kind in KINDS} | {"runtime_seconds": 0.0}


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    seconds = round(max(0.0, row["runtime_seconds"]), 3)
    return {**row, "runtime_seconds": seconds, "compute_seconds": seconds}


def _overlap(started: datetime | None, stopped: datetime, start: datetime, end: datetime) -> float:
    if started is None:
        return 0.0
    return max(0.0, (min(stopped, end) - max(started, start)).total_seconds())
