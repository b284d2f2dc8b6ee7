"""Host → target: what the edge serves for a request's Host, read from the database.

The URL engine's `read_host` says which layers a host could be; this module asks the database
which one exists, in the spec's precedence: a verified exact domain, then an organization's
verified deployment domain, a sandbox preview (the platform's or the organization's verified
preview domain), the managed fallback, a computer's desktop. Only verified domains route.
"""

from __future__ import annotations

from dataclasses import dataclass

import idna
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hostplane.domains.hostnames import is_dns_name
from hostplane.domains.models import DEPLOYMENT, PREVIEW, CustomDomain, TenantDomain
from hostplane.resources.models import Computer, Deployment, Sandbox, SandboxPreview
from hostplane.tenancy.models import Project, Tenant
from hostplane.urls import HostReading, Platform, read_host

VERIFIED = "verified"


@dataclass(frozen=True, slots=True)
class SandboxTarget:
    """A port inside a sandbox. `lifecycle` changes each time the sandbox starts, so pooled
    connections of an earlier run are never reused."""

    tenant_id: str
    sandbox_id: str
    workspace_id: str
    project_id: str
    port: int
    state: str
    lifecycle: str
    visibility: str  # public | private
    mask_host: bool = True


@dataclass(frozen=True, slots=True)
class DeploymentTarget:
    tenant_id: str
    deployment_id: str
    version_id: str | None  # None: nothing published (or promoted) yet
    spa_fallback: bool


@dataclass(frozen=True, slots=True)
class DesktopTarget:
    tenant_id: str
    computer_id: str
    state: str


@dataclass(frozen=True, slots=True)
class NoTarget:
    """Nothing to serve. `tenant_id` is set when the host is an organization's (its error page
    is branded); `reason` is "unknown" or "removed"."""

    tenant_id: str | None
    reason: str


Target = SandboxTarget | DeploymentTarget | DesktopTarget | NoTarget
UNKNOWN = NoTarget(None, "unknown")


def parse_host(raw: str) -> tuple[str, str] | None:
    """A Host header as (name to look up, port or ""): the name lower case, without its trailing
    dot, IDN as A-labels; the port digits only. None for anything else (an IPv6 literal never
    names a tenant's host)."""
    name, colon, port = raw.strip().rpartition(":") if ":" in raw else ("", "", raw.strip())
    if not colon:
        name = port
        port = ""
    elif not (port.isdigit() and len(port) <= 5):
        return None
    if name.startswith("[") or not name:
        return None
    name = name[:-1] if name.endswith(".") else name
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode()
        except idna.IDNAError:
            return None
    name = name.lower()
    return (name, port) if is_dns_name(name) else None


def canonical_host(raw: str) -> str | None:
    """The Host header as a name to look up (see parse_host)."""
    parsed = parse_host(raw)
    return parsed[0] if parsed else None


def resolve(session: Session, platform: Platform, host: str) -> Target:
    """The target of a canonical host."""
    exact = session.execute(
        select(CustomDomain.tenant_id, CustomDomain.target_type, CustomDomain.target_id,
               CustomDomain.port)
        .where(CustomDomain.domain == host, CustomDomain.status == VERIFIED)
    ).first()
    if exact is not None:
        return _exact(session, *exact)
    branded: NoTarget | None = None  # an organization's host whose resource is gone
    for reading in read_host(platform, host):
        target = _READERS[reading.layer](session, platform, reading)
        if isinstance(target, NoTarget):
            branded = branded or target
            continue
        if target is not None:
            return target
    return branded or UNKNOWN


def _exact(session: Session, tenant_id: str, target_type: str, target_id: str,
           port: int | None) -> Target:
    if target_type == "sandbox":
        sandbox = session.get(Sandbox, target_id)
        if sandbox is None or sandbox.tenant_id != tenant_id or sandbox.destroyed_at or not port:
            return NoTarget(tenant_id, "removed")
        return _sandbox(session, sandbox, port)
    if target_type == "project":
        target_id = session.scalar(select(Project.production_deployment_id).where(
            Project.id == target_id, Project.tenant_id == tenant_id)) or ""
        target_type = "deployment"
    if target_type == "deployment":
        row = session.get(Deployment, target_id)
        return _deployment(row) if row and row.tenant_id == tenant_id else NoTarget(
            tenant_id, "removed")
    if target_type == "computer":
        computer = session.get(Computer, target_id)
        if computer is None or computer.tenant_id != tenant_id or computer.destroyed_at:
            return NoTarget(tenant_id, "removed")
        return DesktopTarget(tenant_id, computer.id, computer.state)
    return NoTarget(tenant_id, "removed")


def _deployment(row: Deployment) -> Target:
    if row.destroyed_at is not None:
        return NoTarget(row.tenant_id, "removed")
    return DeploymentTarget(row.tenant_id, row.id, row.active_version_id,
                            bool((row.meta or {}).get("spa_fallback")))


def _read_deployment(session: Session, platform: Platform, r: HostReading) -> Target | None:
    if r.org_slug is not None:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == r.org_slug))
    else:
        tenant_id = _serving_tenant(session, DEPLOYMENT, r.base)
    if tenant_id is None:
        return None
    row = session.scalars(select(Deployment).where(
        Deployment.tenant_id == tenant_id, Deployment.slug == r.slug,
        Deployment.destroyed_at.is_(None))).first()
    return _deployment(row) if row is not None else NoTarget(tenant_id, "unknown")


def _read_preview(session: Session, platform: Platform, r: HostReading) -> Target | None:
    sandbox = session.scalars(select(Sandbox).where(Sandbox.slug == r.slug)).first()
    if sandbox is None or not _preview_base_of(session, platform, sandbox.tenant_id, r.base):
        return None
    if sandbox.destroyed_at is not None:
        return NoTarget(sandbox.tenant_id, "removed")
    assert r.port is not None
    return _sandbox(session, sandbox, r.port)


def _sandbox(session: Session, sandbox: Sandbox, port: int) -> SandboxTarget:
    # A port's own visibility only narrows the sandbox's ("tenant" previews need a token too).
    port_visibility = session.scalar(select(SandboxPreview.visibility).where(
        SandboxPreview.sandbox_id == sandbox.id, SandboxPreview.port == port))
    private = sandbox.visibility != "public" or port_visibility not in (None, "public")
    started = sandbox.last_started_at or sandbox.started_at
    return SandboxTarget(
        sandbox.tenant_id, sandbox.id, sandbox.workspace_id, sandbox.project_id, port,
        sandbox.state, lifecycle=started.isoformat() if started else "",
        visibility="private" if private else "public", mask_host=sandbox.mask_request_host)


def _preview_base_of(session: Session, platform: Platform, tenant_id: str, base: str) -> bool:
    """Previews answer on the platform's preview domain and on the organization's own verified
    one (never on another organization's)."""
    return base == platform.preview_domain or _serving_tenant(session, PREVIEW, base) == tenant_id


def _serving_tenant(session: Session, kind: str, name: str) -> str | None:
    """The organization whose verified domain of this kind `name` is: its verified one, or the
    verified one a pending replacement has not taken over from yet."""
    return session.scalar(select(TenantDomain.tenant_id).where(
        TenantDomain.kind == kind,
        or_(and_(TenantDomain.domain == name, TenantDomain.status == VERIFIED),
            TenantDomain.previous_domain == name)))


def _read_desktop(session: Session, platform: Platform, r: HostReading) -> Target | None:
    computer = session.scalars(select(Computer).where(Computer.slug == r.slug)).first()
    if computer is None:
        return None
    if computer.destroyed_at is not None:
        return NoTarget(computer.tenant_id, "removed")
    return DesktopTarget(computer.tenant_id, computer.id, computer.state)


_READERS = {"deployment": _read_deployment, "preview": _read_preview, "desktop": _read_desktop}
