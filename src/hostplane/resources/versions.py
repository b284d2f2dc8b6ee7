"""Deployments that publish (client contract §10): a build from a sandbox folder, or an uploaded
archive, becomes an immutable version; promote and rollback choose which one the deployment
serves (`active_version_id`). Files live in the release store (`compute/releases.py`)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select

from hostplane import errors
from hostplane.compute.port import WORKSPACE, ComputeDriver
from hostplane.compute.releases import MAX_FILES, MAX_TOTAL_BYTES, Release, Room, too_big
from hostplane.db.helpers import on_rollback, try_insert
from hostplane.db.scope import Scope
from hostplane.resources.common import DESTROYED, get_resource
from hostplane.resources.deployments import DeploymentView, get_deployment
from hostplane.resources import storage
from hostplane.resources.env import Env
from hostplane.resources.models import Deployment, DeploymentVersion, Sandbox

WHAT = "deployment"


def check_publish(scope: Scope, deployment_id: str, sandbox_id: str, quota_mb: int) -> Room:
    """Both exist in this organization (404 otherwise) and the sandbox can be read; answers the
    room the build may take."""
    room = upload_room(scope, deployment_id, quota_mb)
    sandbox = get_resource(scope, Sandbox, sandbox_id, "sandbox", include_destroyed=True)
    if sandbox.state == DESTROYED:
        raise errors.Conflict(f"Sandbox {sandbox_id!r} is destroyed.", code="SANDBOX_NOT_RUNNING",
                              field="source_sandbox_id", fix="Publish from a live sandbox.")
    return room


def upload_room(scope: Scope, deployment_id: str, quota_mb: int) -> Room:
    """The deployment exists in this organization (404 otherwise); how much a new version of
    it may add to the organization's storage."""
    get_resource(scope, Deployment, deployment_id, WHAT)
    left = storage.room(scope, quota_mb)
    return Room(left, lambda size: storage.quota_exceeded("The build", size, left, quota_mb))


def sandbox_files(driver: ComputeDriver, sandbox_id: str,
                  output_path: str) -> Iterator[tuple[str, bytes]]:
    """Every file under `output_path` in the sandbox, with paths relative to it, one at a time
    (no transaction is open while this reads)."""
    root = output_path if output_path.startswith("/") else f"{WORKSPACE}/{output_path}"
    root = posixpath.normpath(root)
    count, total = 0, 0
    for entry in driver.list_files(sandbox_id, root, depth=10):
        if entry.is_dir:
            continue
        relative = posixpath.relpath(posixpath.normpath(entry.path), root)
        if relative.startswith(".."):
            continue  # not under the folder as written (it is reached through a link)
        count += 1
        if count > MAX_FILES:
            raise too_big(count, total)
        try:  # what is read counts, links included: never more than the whole limit
            data = driver.read_file(sandbox_id, entry.path, max_bytes=MAX_TOTAL_BYTES - total)
        except errors.TooLarge:
            raise too_big(count, MAX_TOTAL_BYTES + 1) from None
        total += len(data)
        yield relative, data


def record_version(scope: Scope, deployment_id: str, release: Release, source: str,
                   entrypoint: str | None, promote: bool, env: Env, quota_mb: int
                   ) -> tuple[DeploymentView, DeploymentVersion]:
    # The files are in the store already: if the version is not recorded, they go again.
    shas = {entry["sha256"] for entry in release.manifest.values()}
    on_rollback(scope.session, lambda: storage.forget_unkept(scope.session, env.releases, shas))
    deployment = get_resource(scope, Deployment, deployment_id, WHAT)
    # Again, now that the files are in: another upload may have taken the room meanwhile.
    storage.check_room(scope, quota_mb, _new_bytes(scope, release), "The build")
    for _ in range(5):
        number = (scope.session.scalar(
            select(func.max(DeploymentVersion.version_number))
            .where(DeploymentVersion.deployment_id == deployment.id)) or 0) + 1
        version = DeploymentVersion(
            tenant_id=scope.tenant_id, deployment_id=deployment.id, version_number=number,
            kind="static", state="ready", source=source, digest=release.digest,
            artifact_manifest=release.manifest, total_bytes=release.total_bytes,
            entrypoint=entrypoint, meta={}, created_at=env.now)
        if try_insert(scope.session, version):
            break
    else:
        raise errors.Conflict("Versions are being published concurrently; retry.", code="RETRY")
    if promote:
        _activate(deployment, version, env.now)
    scope.session.flush()
    return get_deployment(scope, deployment.id, env), version


def _new_bytes(scope: Scope, release: Release) -> int:
    """What the release adds to the organization's storage: files it does not keep already."""
    kept = storage.kept_files(scope.session, scope.tenant_id)
    return sum(entry["size"] for sha, entry in {
        e["sha256"]: e for e in release.manifest.values()}.items() if sha not in kept)


def list_versions(scope: Scope, deployment_id: str) -> list[DeploymentVersion]:
    deployment = get_resource(scope, Deployment, deployment_id, WHAT)
    return list(scope.session.scalars(
        scope.select(DeploymentVersion).where(DeploymentVersion.deployment_id == deployment.id)
        .order_by(DeploymentVersion.version_number)))


def get_version(scope: Scope, deployment_id: str, version_id: str) -> DeploymentVersion:
    deployment = get_resource(scope, Deployment, deployment_id, WHAT)
    version = scope.find(DeploymentVersion, id=version_id, deployment_id=deployment.id) \
        if isinstance(version_id, str) else None
    if version is None:
        raise errors.NotFound(f"Deployment {deployment_id!r} has no version {version_id!r}.",
                              code="VERSION_NOT_FOUND", fix="List the deployment's versions.")
    return version


def promote(scope: Scope, deployment_id: str, version_id: str, env: Env) -> DeploymentView:
    version = get_version(scope, deployment_id, version_id)
    _activate(get_resource(scope, Deployment, deployment_id, WHAT), version, env.now)
    scope.session.flush()
    return get_deployment(scope, deployment_id, env)


def rollback(scope: Scope, deployment_id: str, version_id: str | None,
             env: Env) -> DeploymentView:
    """To `version_id`, or to the newest ready version older than the active one."""
    deployment = get_resource(scope, Deployment, deployment_id, WHAT)
    if version_id is not None:
        target = get_version(scope, deployment_id, version_id)
    else:
        active = scope.find(DeploymentVersion, id=deployment.active_version_id) \
            if deployment.active_version_id else None
        stmt = scope.select(DeploymentVersion).where(
            DeploymentVersion.deployment_id == deployment.id,
            DeploymentVersion.state == "ready")
        if active is not None:
            stmt = stmt.where(DeploymentVersion.version_number < active.version_number)
        target = scope.session.scalars(
            stmt.order_by(DeploymentVersion.version_number.desc()).limit(1)).first()
        if target is None:
            raise errors.Conflict("There is no earlier version to roll back to.",
                                  code="NOTHING_TO_ROLL_BACK",
                                  fix="Publish a version, or promote a chosen one.")
    _activate(deployment, target, env.now)
    scope.session.flush()
    return get_deployment(scope, deployment_id, env)


def _activate(deployment: Deployment, version: DeploymentVersion, now: datetime) -> None:
    if version.state != "ready":
        raise errors.Conflict(f"Version {version.version_number} is {version.state}.",
                              code="VERSION_NOT_READY", fix="Promote a ready version.")
    deployment.active_version_id = version.id
    deployment.state, deployment.status_reason = "running", None
    deployment.started_at = deployment.started_at or now
