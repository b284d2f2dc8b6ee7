"""Sandboxes (spec §2, §3; contract §8): create through the ownership service, run through the
compute driver, and name their preview URLs through the URL engine."""

from __future__ import annotations

from dataclasses import dataclass

from hostplane import errors
from hostplane.compute.port import SandboxSpec
from hostplane.db.base import new_id
from hostplane.db.helpers import Page, after_commit, on_rollback, try_insert
from hostplane.db.scope import Scope
from hostplane.domains.custom_domains import detach_all
from hostplane.domains.tenant_domains import organization_domains
from hostplane.resources.common import (
    DESTROYED,
    ResourceFilters,
    get_resource,
    list_resources,
    owned,
    random_slug,
    runtime_seconds,
)
from hostplane.resources.capacity import Capacity
from hostplane.resources.env import Env
from hostplane.resources.storage import MIB, check_room
from hostplane.resources.models import Sandbox
from hostplane.resources.sandbox_schemas import (
    DEFAULT_PREVIEW_PORT,
    SandboxCreate,
    SandboxUpdate,
)
from hostplane.tenancy import slugs
from hostplane.urls import OrganizationDomains, sandbox_preview_url

_ATTEMPTS = 5
WHAT = "sandbox"


@dataclass(frozen=True)
class SandboxView:
    sandbox: Sandbox
    preview_url: str
    preview_domain: str
    preview_port: int
    runtime_seconds: float
    isolation: str | None


def create_sandbox(scope: Scope, body: SandboxCreate, env: Env) -> SandboxView:
    ownership, columns = owned(scope, body)
    org = organization_domains(scope)
    if body.slug is not None:
        slugs.label_slug(body.slug, field="slug")
        sandbox_preview_url(env.platform, org, body.slug, 65535)  # refuse a host DNS can't carry
    size, cpu, memory, disk = _shape(body, env.capacity)
    check_room(scope, env.capacity.storage_quota_mb, disk * MIB, f"A sandbox disk of {disk} MB")
    sandbox = Sandbox(
        **columns, id=new_id(), name=body.name, template_id=body.template_id, size=size,
        cpu_count=cpu, memory_mb=memory, disk_mb=disk, timeout_sec=body.timeout_sec,
        idle_timeout_sec=body.idle_timeout_sec, persistent=body.persistent,
        always_on=body.always_on, visibility=body.visibility,
        mask_request_host=body.mask_request_host, env=dict(body.env or {}), meta=body.metadata or {},
        tags=list(body.tags or []), state="creating",
    )
    sandbox.tenant_id = scope.tenant_id  # added by try_insert, after the slug is chosen
    sandbox.slug = body.slug or random_slug("sbx")
    _start(scope, sandbox, env)  # before the insert: the row is written once, in its real state
    for _ in range(_ATTEMPTS):
        if try_insert(scope.session, sandbox):
            return _view(sandbox, org, env)
        if body.slug is not None:
            raise slugs.slug_taken("sandbox", body.slug)
        sandbox.slug = random_slug("sbx")
    raise errors.Conflict("Could not find a free sandbox slug; retry.", code="RETRY")


def _shape(body: SandboxCreate, capacity: Capacity) -> tuple[str | None, int, int, int]:
    """What was asked for, refused (422) over the host's bounds; the default shape, when nothing
    was asked for, made to fit them (then it is off-tier: size null)."""
    size, cpu, memory, disk = body.shape()
    capacity.check("cpu_count", body.cpu_count or (cpu if body.size else None),
                   size=None if body.cpu_count else body.size)
    capacity.check("memory_mb", body.memory_mb or (memory if body.size else None),
                   size=None if body.memory_mb else body.size)
    capacity.check("disk_mb" if body.disk_mb else "disk_size_mb", body.disk_mb or body.disk_size_mb)
    fitted = capacity.fit(cpu, memory, disk)
    return (size if fitted[:2] == (cpu, memory) else None, *fitted)


def _start(scope: Scope, sandbox: Sandbox, env: Env) -> None:
    """Ask the driver for the sandbox; `running` only if the driver says it takes commands. If
    the transaction does not commit, the driver removes it again."""
    spec = SandboxSpec(id=sandbox.id, slug=sandbox.slug, cpu_count=sandbox.cpu_count,
                       memory_mb=sandbox.memory_mb, disk_mb=sandbox.disk_mb, env=sandbox.env)
    on_rollback(scope.session, lambda: env.driver.destroy_sandbox(spec.id))
    status = env.driver.create_sandbox(spec)
    sandbox.state = "running" if status.running else "error"
    sandbox.status_reason = status.reason
    sandbox.started_at = sandbox.last_started_at = env.now if status.running else None


def get_sandbox(scope: Scope, sandbox_id: str, env: Env) -> SandboxView:
    sandbox = get_resource(scope, Sandbox, sandbox_id, WHAT, include_destroyed=True)
    return _view(sandbox, organization_domains(scope), env)


def update_sandbox(scope: Scope, sandbox_id: str, body: SandboxUpdate, env: Env) -> SandboxView:
    """Rename it, or change who may open its previews and what Host its app sees (the edge
    serves the change within a second)."""
    sandbox = get_resource(scope, Sandbox, sandbox_id, WHAT)
    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(sandbox, key, value)
    return _view(sandbox, organization_domains(scope), env)


def get_sandbox_by_name(scope: Scope, name: str, env: Env) -> SandboxView:
    """The newest live sandbox with this name (the SDK's get_or_create creates on 404)."""
    stmt = (scope.select(Sandbox).where(Sandbox.name == name, Sandbox.destroyed_at.is_(None))
            .order_by(Sandbox.created_at.desc(), Sandbox.id.desc()).limit(1))
    sandbox = scope.session.scalars(stmt).first()
    if sandbox is None:
        raise errors.NotFound(f"No live sandbox named {name!r} in this organization.",
                              code="SANDBOX_NOT_FOUND", fix="Create it, or list your sandboxes.")
    return _view(sandbox, organization_domains(scope), env)


def list_sandboxes(
    scope: Scope, filters: ResourceFilters, env: Env, *, limit: int, cursor: str | None,
    offset: int,
) -> Page[SandboxView]:
    page = list_resources(scope, Sandbox, filters, limit=limit, cursor=cursor, offset=offset)
    org = organization_domains(scope)
    return Page([_view(s, org, env) for s in page.items], page.next_cursor, page.total)


def destroy_sandbox(scope: Scope, sandbox_id: str, env: Env) -> SandboxView:
    """Mark it destroyed; the driver removes its files once that is committed. Destroying a
    destroyed sandbox answers it again (DELETE is idempotent)."""
    sandbox = get_resource(scope, Sandbox, sandbox_id, WHAT, include_destroyed=True)
    if sandbox.destroyed_at is None:
        sandbox.state, sandbox.destroyed_at, sandbox.status_reason = DESTROYED, env.now, None
        scope.session.flush()
        detach_all(scope, "sandbox", sandbox.id, env.now)  # its exact domains are given back
        after_commit(scope.session, lambda: env.driver.destroy_sandbox(sandbox_id))
    return _view(sandbox, organization_domains(scope), env)


# What to do about a sandbox that can't take commands, by its state.
_NOT_RUNNING_FIX = {
    DESTROYED: "Create a new sandbox.",
    "paused": "Resume it: POST /api/v1/sandboxes/{id}/resume (hostplane sandboxes resume ID).",
    "stopped": "Start it: POST /api/v1/sandboxes/{id}/start (hostplane sandboxes start ID).",
    "error": "Read status_reason, then start it again or create a new sandbox.",
}


def runnable_sandbox(scope: Scope, sandbox_id: str,
                     states: tuple[str, ...] = ("running",)) -> Sandbox:
    """The sandbox, if it is in one of `states` (by default: it can take commands now); else 409
    saying why."""
    sandbox = get_resource(scope, Sandbox, sandbox_id, WHAT, include_destroyed=True)
    if sandbox.state not in states:
        raise errors.Conflict(
            f"Sandbox {sandbox_id!r} is {sandbox.state}, so it cannot take commands"
            + (f": {sandbox.status_reason}" if sandbox.status_reason else "."),
            code="SANDBOX_NOT_RUNNING",
            fix=_NOT_RUNNING_FIX.get(sandbox.state, "Wait until its state is running."),
            extra={"state": sandbox.state},
        )
    return sandbox


def listening_ports(scope: Scope, sandbox_id: str, env: Env) -> list[tuple[int, str]]:
    """The ports something in the sandbox listens on, each with its preview URL."""
    sandbox = runnable_sandbox(scope, sandbox_id)
    org = organization_domains(scope)
    return [(port, sandbox_preview_url(env.platform, org, sandbox.slug, port))
            for port in env.driver.list_ports(sandbox.id)]


# The components the official client checks (contract §8.2). The local driver has no separate
# agents: a running sandbox is ready in all of them at once.
READINESS_COMPONENTS = ("command_agent", "process_control", "resource_contract", "clock",
                        "identity", "durability", "filesystem", "internal_probe")


def readiness(scope: Scope, sandbox_id: str) -> dict[str, object]:
    """Whether the sandbox takes commands now, in the shape `wait_until_ready` polls."""
    sandbox = get_resource(scope, Sandbox, sandbox_id, WHAT, include_destroyed=True)
    ready = sandbox.state == "running"
    status = "ready" if ready else "not_ready"
    return {"sandbox_id": sandbox.id, "state": sandbox.state, "ready": ready, "status": status,
            "status_reason": sandbox.status_reason,
            "readiness": {"components": {name: status for name in READINESS_COMPONENTS}}}


def _view(sandbox: Sandbox, org: OrganizationDomains, env: Env) -> SandboxView:
    # The spec's example port: a stable preview_url the SDK can show before anything is exposed.
    port = DEFAULT_PREVIEW_PORT
    url = sandbox_preview_url(env.platform, org, sandbox.slug, port)
    domain = org.active_preview_domain or env.platform.preview_domain
    isolation = getattr(env.driver, "isolation_mode", None)
    return SandboxView(sandbox, url, domain, port, runtime_seconds(sandbox, env.now), isolation)

