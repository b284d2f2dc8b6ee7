"""The one permission vocabulary (`resource:action`) and who gets what.

API keys hold the scopes they were created with (all of them by default, written "*"). Browser tokens
(a later area) get at most what the key that minted them holds, and never the management ones.
"""

from __future__ import annotations

from hostplane import errors

PERMISSIONS: dict[str, str] = {
    "organization:read": "read the organization, its setup state and plan",
    "organization:manage": "set the organization name and settings",
    "api_key:manage": "list, create, rotate and revoke API keys",
    "workspace:read": "read workspaces",
    "workspace:write": "create, change and delete workspaces",
    "project:read": "read projects",
    "project:write": "create, change, move and delete projects",
    "sandbox:read": "read sandboxes",
    "sandbox:write": "create, change and destroy sandboxes",
    "sandbox:exec": "run commands and read and write files in sandboxes",
    "preview:read": "open sandbox previews",
    "deployment:read": "read deployments",
    "deployment:write": "create, publish and delete deployments",
    "database:read": "read databases",
    "database:write": "create and delete databases",
    "computer:read": "read computers",
    "computer:control": "start, stop and drive computers",
    "computer:write": "create and destroy computers",
    "domain:read": "read domains",
    "domain:write": "add, verify and remove domains",
    "branding:read": "read branding",
    "branding:write": "change branding",
    "browser_token:create": "mint browser tokens for end users",
    "usage:read": "read usage and chargeback figures",
}

ALL = "*"

# Permissions that only server-side API keys may ever hold.
MANAGEMENT: frozenset[str] = frozenset(
    {
        "organization:manage",
        "api_key:manage",
        "domain:write",
        "branding:write",
        "browser_token:create",
    }
)


def check_known(scopes: list[str], *, field: str = "scopes") -> list[str]:
    """Refuse scopes outside the vocabulary; return them de-duplicated in a stable order."""
    unknown = [s for s in scopes if s != ALL and s not in PERMISSIONS]
    if unknown:
        raise errors.Invalid(
            f"Unknown permission(s): {', '.join(map(repr, unknown))}.",
            field=field,
            rule="each permission must be one of the documented resource:action names",
            fix="Use names like " + ", ".join(sorted(PERMISSIONS)[:4]) + ", … or \"*\" for all.",
            details={"allowed": sorted(PERMISSIONS)},
        )
    return sorted(set(scopes))


def grants(held: frozenset[str], permission: str) -> bool:
    return ALL in held or permission in held
