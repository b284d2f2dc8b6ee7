"""Who is calling: an API key (server side) or, later, a browser token; always one organization."""

from __future__ import annotations

from dataclasses import dataclass

from hostplane import errors
from hostplane.db.scope import Limit
from hostplane.tenancy.permissions import grants


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    kind: str  # "api_key" | "browser_token"
    subject_id: str  # the key id, or the token id
    scopes: frozenset[str]
    external_user_id: str | None = None
    limit: Limit | None = None  # a browser token's workspace, project, sandboxes and ports
    origins: tuple[str, ...] = ()  # a browser token: the organization's allowed origins
    set_up: bool = False  # known to have finished setup (permanent): the setup gate is passed

    def can(self, permission: str) -> bool:
        return grants(self.scopes, permission)

    def require(self, permission: str) -> None:
        """Forbidden unless this principal holds the permission."""
        if not self.can(permission):
            raise errors.Forbidden(
                f"This credential lacks the {permission!r} permission.",
                code="PERMISSION_DENIED",
                details={"required": permission},
                fix="Use an API key that holds this permission." if self.kind == "api_key"
                else "Mint a browser token that includes this permission (if the route allows "
                "browser tokens at all: keys, domains, branding and organization settings are "
                "for API keys only).",
            )
