"""Sandbox previews (contract §8.3): a port of a sandbox at its preview URL, named by the engine."""

from __future__ import annotations

from dataclasses import dataclass

from hostplane import errors
from hostplane.db.helpers import try_insert
from hostplane.db.scope import Scope
from hostplane.domains.tenant_domains import organization_domains
from hostplane.resources.common import DESTROYED, get_resource
from hostplane.resources.env import Env
from hostplane.resources.models import Sandbox, SandboxPreview
from hostplane.urls import OrganizationDomains, sandbox_preview_url


@dataclass(frozen=True)
class PreviewView:
    preview: SandboxPreview
    url: str
    reused: bool = False


def expose_port(scope: Scope, sandbox_id: str, port: int, env: Env, *, name: str | None = None,
                visibility: str | None = None) -> PreviewView:
    """The preview of this port, created if it does not exist yet (so exposing twice is safe)."""
    if scope.limit is not None and scope.limit.ports is not None and port not in scope.limit.ports:
        raise errors.Forbidden(f"This browser token is limited to ports "
                               f"{', '.join(map(str, scope.limit.ports))}.",
                               code="PORT_NOT_ALLOWED", field="port",
                               fix="Mint a token that lists this port.")
    sandbox = _open_sandbox(scope, sandbox_id)
    org = organization_domains(scope)
    url = sandbox_preview_url(env.platform, org, sandbox.slug, port)
    existing = scope.find(SandboxPreview, sandbox_id=sandbox.id, port=port)
    if existing is not None:
        return PreviewView(existing, url, reused=True)
    preview = SandboxPreview(sandbox_id=sandbox.id, port=port, name=name,
                             visibility=visibility or "public")
    preview.tenant_id = scope.tenant_id  # added by try_insert
    if not try_insert(scope.session, preview):  # exposed concurrently: answer the winner
        winner = scope.find(SandboxPreview, sandbox_id=sandbox.id, port=port)
        assert winner is not None
        return PreviewView(winner, url, reused=True)
    return PreviewView(preview, url)


def list_previews(scope: Scope, sandbox_id: str, env: Env) -> list[PreviewView]:
    sandbox = get_resource(scope, Sandbox, sandbox_id, "sandbox", include_destroyed=True)
    org = organization_domains(scope)
    stmt = scope.select(SandboxPreview).where(SandboxPreview.sandbox_id == sandbox.id)
    previews = scope.session.scalars(stmt.order_by(SandboxPreview.port))
    return [_view(p, sandbox, org, env) for p in previews]


def get_preview(scope: Scope, sandbox_id: str, preview_id: str, env: Env) -> PreviewView:
    sandbox, preview = _preview(scope, sandbox_id, preview_id)
    return _view(preview, sandbox, organization_domains(scope), env)


def delete_preview(scope: Scope, sandbox_id: str, preview_id: str) -> SandboxPreview:
    _, preview = _preview(scope, sandbox_id, preview_id)
    scope.session.delete(preview)
    scope.session.flush()
    return preview


def _preview(scope: Scope, sandbox_id: str, preview_id: str) -> tuple[Sandbox, SandboxPreview]:
    sandbox = get_resource(scope, Sandbox, sandbox_id, "sandbox", include_destroyed=True)
    preview = scope.find(SandboxPreview, id=preview_id, sandbox_id=sandbox.id)
    if preview is None:
        raise errors.NotFound(f"Sandbox {sandbox_id!r} has no preview {preview_id!r}.",
                              code="PREVIEW_NOT_FOUND", fix="List the sandbox's previews.")
    return sandbox, preview


def _open_sandbox(scope: Scope, sandbox_id: str) -> Sandbox:
    sandbox = get_resource(scope, Sandbox, sandbox_id, "sandbox", include_destroyed=True)
    if sandbox.state == DESTROYED:
        raise errors.Conflict(f"Sandbox {sandbox_id!r} is destroyed; it has no previews.",
                              code="SANDBOX_NOT_RUNNING", fix="Create a new sandbox.",
                              extra={"state": sandbox.state})
    return sandbox


def _view(preview: SandboxPreview, sandbox: Sandbox, org: OrganizationDomains,
          env: Env) -> PreviewView:
    return PreviewView(preview, sandbox_preview_url(env.platform, org, sandbox.slug, preview.port))
