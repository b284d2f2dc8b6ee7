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
    "audit:read": "read the audit log",
    "event:read": "read and stream the event log",
    "webhook:manage": "create, change, test and delete webhooks and read their deliveries",
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
        "webhook:manage",
    }
)


# What a browser token may hold: reads and actions inside its own workspace or project. Never
# management, never anything organization-wide (usage, domains), never creating workspaces,
# projects, databases or computers.
BROWSER: frozenset[str] = frozenset(
    {
        "workspace:read",
        "project:read",
        "sandbox:read",
        "sandbox:write",
        "sandbox:exec",
        "preview:read",
        "deployment:read",
        "database:read",
        "computer:read",
        "computer:control",
        "branding:read",
    }
)

# Client quirk: the official clients' scoped-token grammar (`sandboxes:create`) → this vocabulary.
_ACTIONS = {"read": "read", "list": "read", "get": "read", "create": "write", "update": "write",
            "delete": "write", "write": "write", "exec": "exec", "control": "control"}


def normalize(scope: str) -> str:
    resource, _, action = scope.partition(":")
    if f"{resource}:{action}" in PERMISSIONS:
        return scope
    action = _ACTIONS.get(action, action)
    for singular in (resource[:-1], resource[:-2]):  # sandboxes → sandbox, previews → preview
        if resource.endswith("s") and f"{singular}:{action}" in PERMISSIONS:
            return f"{singular}:{action}"
    return f"{resource}:{action}"


def check_browser(scopes: list[str], *, field: str = "permissions") -> list[str]:
    """A browser token's permissions: known, normalized, and none it may never hold."""
    wanted = check_known([normalize(s) for s in scopes if s != ALL], field=field)
    barred = [s for s in wanted if s not in BROWSER]
    if barred or ALL in scopes:
        raise errors.Invalid(
            f"Browser tokens can't hold {', '.join(map(repr, barred or [ALL]))}.",
            code="PERMISSION_NOT_FOR_BROWSER", field=field,
            rule="a browser token acts inside its workspace or project; managing keys, domains, "
                 "branding, organization settings, workspaces and projects is for API keys",
            fix="Ask for some of: " + ", ".join(sorted(BROWSER)) + ".",
            details={"allowed": sorted(BROWSER)})
    return wanted


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
