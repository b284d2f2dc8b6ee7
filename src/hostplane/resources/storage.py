"""Storage one organization holds, and its quota (HOSTPLANE_STORAGE_QUOTA_MB): the distinct files
of its live deployments' versions, its branding images, and the disk its live sandboxes were
given (disk_mb: what each may fill, whether or not it has yet)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hostplane import errors
from hostplane.branding.models import Branding
from hostplane.compute.releases import ReleaseStore
from hostplane.db.helpers import after_commit
from hostplane.db.scope import Scope
from hostplane.resources.models import Deployment, DeploymentVersion, Sandbox
from hostplane.tenancy.models import Tenant

if TYPE_CHECKING:
    from hostplane.api.container import Container

MIB = 1024 * 1024
COLLECT_EVERY = 3600.0  # seconds; also how old an unkept file must be before it goes


def kept_files(session: Session, tenant_id: str | None) -> dict[str, int]:
    """The files (SHA-256 → size) the versions of live deployments keep: one organization's,
    or (tenant_id None) everyone's. A file kept by several versions is one file."""
    manifests = select(DeploymentVersion.artifact_manifest).join(
        Deployment, Deployment.id == DeploymentVersion.deployment_id).where(
        Deployment.destroyed_at.is_(None))
    if tenant_id is not None:
        manifests = manifests.where(DeploymentVersion.tenant_id == tenant_id)
    return {entry["sha256"]: int(entry["size"]) for (manifest,) in session.execute(manifests)
            for entry in (manifest or {}).values()}


def drop_files_on_commit(scope: Scope, releases: ReleaseStore, deployments_where: Any) -> None:
    """The files of these deployments' versions are deleted once the transaction has committed,
    except those another live version still keeps (files are shared by content, across
    organizations)."""
    manifests = select(DeploymentVersion.artifact_manifest).join(
        Deployment, Deployment.id == DeploymentVersion.deployment_id).where(
        Deployment.tenant_id == scope.tenant_id, deployments_where)
    shas = {entry["sha256"] for (manifest,) in scope.session.execute(manifests)
            for entry in (manifest or {}).values()}
    if shas:
        after_commit(scope.session, lambda: forget_unkept(scope.session, releases, shas))


def forget_unkept(session: Session, releases: ReleaseStore, shas: set[str]) -> None:
    """Delete those of these files no live version keeps (in a transaction of its own)."""
    try:
        kept = kept_files(session, None)
    finally:
        session.close()
    releases.forget(shas - kept.keys())


def collect_release_files(container: Container) -> int:
    """Worker job, at most once an hour: delete release files no live version keeps (a delete
    whose clean-up failed, a process that died mid-upload), once they are an hour old."""
    now = time.time()
    if now - container.releases.collected_at < COLLECT_EVERY:
        return 0
    with container.database.transaction(write=False) as session:
        kept = kept_files(session, None)
    container.releases.collected_at = now
    return container.releases.collect(kept.keys(), older_than=now - COLLECT_EVERY)


def storage_used(scope: Scope) -> dict[str, int]:
    """Bytes per kind, for the whole organization (whoever in it asks)."""
    blobs = kept_files(scope.session, scope.tenant_id)
    assets = scope.session.scalar(select(Branding.assets).where(
        Branding.tenant_id == scope.tenant_id)) or {}
    sandboxes = scope.session.scalar(select(func.coalesce(func.sum(Sandbox.disk_mb), 0)).where(
        Sandbox.tenant_id == scope.tenant_id, Sandbox.destroyed_at.is_(None)))
    return {"releases_bytes": sum(blobs.values()),
            "assets_bytes": sum(int(a.get("size_bytes") or 0) for a in assets.values()),
            "sandboxes_bytes": int(sandboxes or 0) * MIB}


def storage_usage(scope: Scope, quota_mb: int) -> dict[str, Any]:
    """What GET /usage shows: used, the quota, and what is left, in bytes."""
    parts = storage_used(scope)
    used, quota = sum(parts.values()), quota_mb * MIB
    return {"used_bytes": used, "quota_bytes": quota, "available_bytes": max(0, quota - used),
            **parts}


def room(scope: Scope, quota_mb: int) -> int:
    """Bytes the organization may still add."""
    return max(0, quota_mb * MIB - sum(storage_used(scope).values()))


def check_room(scope: Scope, quota_mb: int, adding: int, what: str) -> None:
    """413 STORAGE_QUOTA_EXCEEDED if `adding` more bytes would pass the quota. In a write
    transaction the organization's row stays locked until it ends: two requests that each fit
    alone can't both pass."""
    scope.session.execute(select(Tenant.id).where(Tenant.id == scope.tenant_id).with_for_update())
    left = room(scope, quota_mb)
    if adding > left:
        raise quota_exceeded(what, adding, left, quota_mb)


def quota_exceeded(what: str, adding: int | None, left: int, quota_mb: int) -> errors.TooLarge:
    size = f" ({adding} bytes)" if adding is not None else ""
    return errors.TooLarge(
        f"{what}{size} would pass the organization's storage quota: {left} of "
        f"{quota_mb * MIB} bytes are left.", code="STORAGE_QUOTA_EXCEEDED", field="storage",
        rule=f"releases, branding images and sandbox disks together at most {quota_mb} MB",
        fix="Delete deployments or sandboxes you no longer need (GET /api/v1/usage shows what "
            "is used), or ask the platform's operator for a larger quota.",
        details={"available_bytes": left, "quota_bytes": quota_mb * MIB})
