"""The cross-tenant suite: every /api/v1 route, four callers.

no credential → 401 · revoked key → 401 · a key without the permission → 403 ·
another organization's key on this organization's objects → 404 · the owner → 2xx.

A route added to the API without a case here fails test_every_route_has_a_case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from hostplane.api.app import API_PREFIX
from tests.factories import Org, unique


@dataclass(frozen=True)
class Case:
    body: Any = None
    owner: int = 200  # status the owner gets
    # A list route: the other organization must not see the owner's object with this id key.
    lists: str | None = None
    # Body fields that name the owner's objects: the other organization must get 404 for them.
    refers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | None = None  # query parameters
    weak: str = "usage:read"  # the one permission of the key that must get 403
    # Path placeholders filled from another key of the world (one {domain_id}, three resources).
    path_ids: dict[str, str] = field(default_factory=dict)


def _name(world: dict[str, Any]) -> dict[str, Any]:
    return {"name": unique("Name")}


def _domain(world: dict[str, Any]) -> dict[str, Any]:
    return {"domain": f"d{uuid.uuid4().hex[:12]}.drsmithclinic.com"}


def _fqdn(world: dict[str, Any]) -> dict[str, Any]:
    return {"fqdn": f"d{uuid.uuid4().hex[:12]}.drsmithclinic.com"}


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/platform/tenants"): Case(lists="tenant_id"),
    ("GET", "/platform/tenants/current"): Case(),
    ("POST", "/platform/tenants/{id_or_slug}/switch"): Case(body={}, owner=403),
    ("GET", "/tenants/{tenant_id}"): Case(),
    ("PUT", "/tenants/{tenant_id}"): Case(body=lambda w: {"name": w["name"]}),
    ("PATCH", "/tenants/{tenant_id}"): Case(body=lambda w: {"name": w["name"]}),
    ("GET", "/tenant/plan"): Case(),
    ("GET", "/tenant/setup"): Case(),
    ("POST", "/deployments/{deployment_id}/publish"): Case(
        body=lambda w: {"source_sandbox_id": w["sandbox_id"]}, owner=201,
        refers={"source_sandbox_id": "sandbox_id"}),
    ("POST", "/deployments/{deployment_id}/versions"): Case(body=lambda w: _site(), owner=201),
    ("GET", "/deployments/{deployment_id}/versions"): Case(),
    ("GET", "/deployments/{deployment_id}/versions/{version_id}"): Case(),
    ("POST", "/deployments/{deployment_id}/versions/{version_id}/promote"): Case(),
    ("POST", "/deployments/{deployment_id}/rollback"): Case(
        body=lambda w: {"version_id": w["version_id"]}, refers={"version_id": "version_id"}),
    ("GET", "/audit-log"): Case(lists="workspace_id"),
    ("GET", "/events"): Case(lists="workspace_id", params={"limit": 200}),
    ("GET", "/events/stream"): Case(params={"after": 0, "follow": "false"}),
    ("POST", "/webhooks"): Case(body={"url": "http://127.0.0.1:9/hooks", "events": ["*"]},
                                owner=201),
    ("GET", "/webhooks"): Case(lists="webhook_id"),
    ("GET", "/webhooks/{webhook_id}"): Case(),
    ("PATCH", "/webhooks/{webhook_id}"): Case(body={"description": "changed"}),
    ("DELETE", "/webhooks/{webhook_id}"): Case(),
    ("POST", "/webhooks/{webhook_id}/test"): Case(),
    ("POST", "/webhooks/{webhook_id}/rotate-secret"): Case(),
    ("GET", "/webhooks/{webhook_id}/deliveries"): Case(),
    ("POST", "/workspaces"): Case(body=_name, owner=201),
    ("GET", "/workspaces"): Case(lists="workspace_id"),
    ("GET", "/workspaces/{workspace_id}"): Case(),
    ("PATCH", "/workspaces/{workspace_id}"): Case(body={"description": "changed"}),
    ("DELETE", "/workspaces/{workspace_id}"): Case(),
    ("PUT", "/workspaces/{workspace_id}/settings"): Case(body={"theme": "dark"}),
    ("GET", "/workspaces/{workspace_id}/usage"): Case(weak="workspace:read"),
    ("GET", "/workspaces/{workspace_id}/stats"): Case(weak="workspace:read"),
    ("GET", "/workspaces/{workspace_id}/projects"): Case(weak="workspace:read"),
    ("POST", "/projects"): Case(body=lambda w: {"name": unique("P"), "workspace_id": w["workspace_id"]},
                                owner=201, refers={"workspace_id": "workspace_id"}),
    ("GET", "/projects"): Case(lists="project_id"),
    ("GET", "/projects/{project_id}"): Case(),
    ("PATCH", "/projects/{project_id}"): Case(body={"description": "changed"}),
    ("DELETE", "/projects/{project_id}"): Case(),
    ("POST", "/projects/{project_id}/move"): Case(
        body=lambda w: {"target_workspace_id": w["workspace2_id"]},
        refers={"target_workspace_id": "workspace2_id"}),
    ("GET", "/projects/{project_id}/summary"): Case(),
    ("PUT", "/tenant/preview-domain"): Case(body={"preview_domain": "cliniciq-test.dev"}),
    ("GET", "/tenant/preview-domain"): Case(),
    ("DELETE", "/tenant/preview-domain"): Case(),
    ("PUT", "/tenant/deployment-domain"): Case(body={"domain": "apps.cliniciq-test.com"}),
    ("GET", "/tenant/deployment-domain"): Case(),
    ("DELETE", "/tenant/deployment-domain"): Case(),
    ("POST", "/tenant/preview-domain/verify"): Case(owner=404),
    ("GET", "/tenant/preview-domain/verify"): Case(owner=404),
    ("POST", "/tenant/deployment-domain/verify"): Case(owner=404),
    ("GET", "/tenant/deployment-domain/verify"): Case(owner=404),
    ("POST", "/sandboxes"): Case(body=lambda w: {"workspace_id": w["workspace_id"]}, owner=201,
                                 refers={"workspace_id": "workspace_id"}),
    ("GET", "/sandboxes"): Case(lists="sandbox_id"),
    ("GET", "/sandboxes/by-name/{name}"): Case(),
    ("GET", "/sandboxes/{sandbox_id}"): Case(),
    ("DELETE", "/sandboxes/{sandbox_id}"): Case(),
    ("PATCH", "/sandboxes/{sandbox_id}"): Case(body={"visibility": "private"}),
    ("GET", "/sandboxes/{sandbox_id}/readiness"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/exec"): Case(body={"command": "echo hi"}),
    ("POST", "/sandboxes/{sandbox_id}/fs/write"): Case(body={"path": "a.txt", "content": "x"}),
    ("POST", "/sandboxes/{sandbox_id}/files"): Case(body={"path": "b.txt", "content": "eA=="}),
    ("GET", "/sandboxes/{sandbox_id}/files"): Case(),
    ("GET", "/sandboxes/{sandbox_id}/fs/download"): Case(params={"path": "hello.txt"}),
    ("POST", "/sandboxes/{sandbox_id}/fs/stat"): Case(body={"path": "hello.txt"}),
    ("POST", "/sandboxes/{sandbox_id}/files/stat"): Case(body={"path": "hello.txt"}),
    ("GET", "/sandboxes/{sandbox_id}/files/{file_path}"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/expose"): Case(body={"port": 3000}, owner=201),
    ("POST", "/sandboxes/{sandbox_id}/exec/stream"): Case(body={"command": "echo hi"}),
    ("POST", "/sandboxes/{sandbox_id}/stop"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/start"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/pause"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/resume"): Case(),
    ("GET", "/sandboxes/{sandbox_id}/ports"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/processes"): Case(body={"command": "true"}, owner=201),
    ("GET", "/sandboxes/{sandbox_id}/processes"): Case(),
    ("GET", "/sandboxes/{sandbox_id}/processes/{process_id}"): Case(),
    ("DELETE", "/sandboxes/{sandbox_id}/processes/{process_id}"): Case(),
    ("GET", "/sandboxes/{sandbox_id}/processes/{process_id}/logs"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/previews"): Case(body={"port": 8080}, owner=201),
    ("GET", "/sandboxes/{sandbox_id}/previews"): Case(),
    ("GET", "/sandboxes/{sandbox_id}/previews/{preview_id}"): Case(),
    ("DELETE", "/sandboxes/{sandbox_id}/previews/{preview_id}"): Case(),
    ("GET", "/databases/{database_id}/credentials"): Case(),
    ("POST", "/databases/{database_id}/stop"): Case(),
    ("POST", "/databases/{database_id}/start"): Case(),
    ("POST", "/databases"): Case(body=lambda w: {"project_id": w["project_id"], "engine": "sqlite"},
                                 owner=201,
                                 refers={"project_id": "project_id"}),
    ("GET", "/databases"): Case(lists="database_id"),
    ("GET", "/databases/{database_id}"): Case(),
    ("PATCH", "/databases/{database_id}"): Case(body={"name": "renamed"}),
    ("DELETE", "/databases/{database_id}"): Case(),
    ("POST", "/deployments"): Case(body=lambda w: {"name": "App", "project_id": w["project_id"]},
                                   owner=201, refers={"project_id": "project_id"}),
    ("POST", "/projects/{project_id}/deployments"): Case(body={"name": "App"}, owner=201),
    ("GET", "/deployments"): Case(lists="deployment_id"),
    ("GET", "/deployments/{deployment_id}"): Case(),
    ("PATCH", "/deployments/{deployment_id}"): Case(body={"name": "renamed"}),
    ("DELETE", "/deployments/{deployment_id}"): Case(),
    ("POST", "/computers"): Case(body=lambda w: {"name": "desk", "workspace_id": w["workspace_id"]},
                                 owner=201, refers={"workspace_id": "workspace_id"}),
    ("GET", "/computers"): Case(lists="computer_id"),
    ("GET", "/computers/{computer_id}"): Case(),
    ("PATCH", "/computers/{computer_id}"): Case(body={"name": "renamed"}),
    ("DELETE", "/computers/{computer_id}"): Case(),
    ("GET", "/usage"): Case(lists="workspace_id", weak="branding:read"),
    ("POST", "/deployments/{deployment_id}/domains"): Case(body=_domain, owner=201),
    ("GET", "/deployments/{deployment_id}/domains"): Case(),
    ("POST", "/deployments/{deployment_id}/domains/{domain_id}/verify"): Case(),
    ("DELETE", "/deployments/{deployment_id}/domains/{domain_id}"): Case(),
    # Desktops are off in the suite (tests/conftest.py): the owner's computer is stopped, so its
    # lifecycle is 409 DESKTOP_NOT_SUPPORTED and its desktop 409 COMPUTER_NOT_RUNNING.
    ("POST", "/computers/{computer_id}/start"): Case(owner=409),
    ("POST", "/computers/{computer_id}/stop"): Case(owner=409),
    ("POST", "/computers/{computer_id}/restart"): Case(owner=409),
    ("GET", "/computers/{computer_id}/embed"): Case(),
    ("GET", "/computers/{computer_id}/viewer-password"): Case(),
    ("POST", "/computers/{computer_id}/viewer-password/rotate"): Case(),
    ("GET", "/computers/{computer_id}/desktop/screenshot"): Case(owner=409),
    ("POST", "/computers/{computer_id}/desktop/screenshot/region"): Case(
        body={"x": 0, "y": 0, "width": 10, "height": 10}, owner=409),
    **{("POST", f"/computers/{{computer_id}}/desktop/{action}"): Case(body=body, owner=409)
       for action, body in (
           ("click", {"x": 1, "y": 1}), ("double-click", {"x": 1, "y": 1}),
           ("mouse-down", {"x": 1, "y": 1}), ("mouse-up", {"x": 1, "y": 1}),
           ("move", {"x": 1, "y": 1}), ("drag", {"from_x": 1, "from_y": 1, "to_x": 2, "to_y": 2}),
           ("scroll", {"direction": "down"}), ("type", {"text": "hi"}), ("key", {"key": "a"}),
           ("hotkey", {"keys": ["ctrl", "c"]}), ("key-down", {"key": "a"}),
           ("key-up", {"key": "a"}), ("wait", {"seconds": 0}),
           ("window/focus", {"window_id": "4194305"}), ("launch", {"app": "terminal"}),
           ("clipboard", {"text": "hi"}), ("wallpaper", {"path": "/workspace/w.png"}))},
    **{("GET", f"/computers/{{computer_id}}/desktop/{what}"): Case(owner=409)
       for what in ("cursor", "screen-size", "environment", "accessibility-tree", "windows",
                    "clipboard", "window/{window_id}/size", "window/{window_id}/position")},
    ("POST", "/computers/{computer_id}/desktop/window/{window_id}/{verb}"): Case(body={},
                                                                              owner=409),
    ("POST", "/computers/{computer_id}/domains"): Case(body=_fqdn, owner=201),
    ("GET", "/computers/{computer_id}/domains"): Case(),
    ("POST", "/computers/{computer_id}/domains/{domain_id}/verify"): Case(
        path_ids={"domain_id": "computer_domain_id"}),
    ("DELETE", "/computers/{computer_id}/domains/{domain_id}"): Case(
        path_ids={"domain_id": "computer_domain_id"}),
    ("POST", "/sandboxes/{sandbox_id}/domains"): Case(
        body=lambda w: {**_domain(w), "port": 3000}, owner=201),
    ("GET", "/sandboxes/{sandbox_id}/domains"): Case(),
    ("POST", "/sandboxes/{sandbox_id}/domains/{domain_id}/verify"): Case(
        path_ids={"domain_id": "sandbox_domain_id"}),
    ("DELETE", "/sandboxes/{sandbox_id}/domains/{domain_id}"): Case(
        path_ids={"domain_id": "sandbox_domain_id"}),
    ("POST", "/projects/{project_id}/domains"): Case(body=_domain, owner=201),
    ("GET", "/projects/{project_id}/domains"): Case(),
    ("POST", "/projects/{project_id}/domains/{domain_id}/verify"): Case(
        path_ids={"domain_id": "project_domain_id"}),
    ("DELETE", "/projects/{project_id}/domains/{domain_id}"): Case(
        path_ids={"domain_id": "project_domain_id"}),
    ("GET", "/custom-domains"): Case(lists="domain_id"),
    ("POST", "/custom-domains"): Case(
        body=lambda w: {**_domain(w), "resource_type": "deployment",
                        "resource_id": w["deployment_id"]},
        owner=201, refers={"resource_id": "deployment_id"}),
    ("GET", "/custom-domains/{domain_id}"): Case(),
    ("GET", "/custom-domains/{domain_id}/events"): Case(),
    ("GET", "/tenant/preview-domain/events"): Case(),
    ("GET", "/tenant/deployment-domain/events"): Case(),
    ("POST", "/custom-domains/{domain_id}/verify"): Case(),
    ("DELETE", "/custom-domains/{domain_id}"): Case(),
    ("POST", "/api-keys"): Case(body=_name, owner=201),
    ("GET", "/api-keys"): Case(lists="key_id"),
    ("GET", "/api-keys/{key_id}"): Case(),
    ("PATCH", "/api-keys/{key_id}"): Case(body={"name": "renamed"}),
    ("DELETE", "/api-keys/{key_id}"): Case(),
    ("POST", "/api-keys/{key_id}/rotate"): Case(),
    ("POST", "/browser-tokens"): Case(body=lambda w: _token_body(w), owner=201,
                                      refers={"workspace_id": "workspace_id"}),
    ("POST", "/tokens/browser"): Case(body=lambda w: _token_body(w), owner=201,
                                      refers={"workspace_id": "workspace_id"}),
    ("POST", "/tokens/scoped"): Case(
        body=lambda w: {"user_id": "dr-smith", "workspace_id": w["workspace_id"],
                        "scopes": ["sandbox:read"]},
        owner=201, refers={"workspace_id": "workspace_id"}),
    ("GET", "/browser-tokens"): Case(lists="token_id"),
    ("GET", "/tokens/scoped"): Case(lists="token_id"),
    ("DELETE", "/browser-tokens/{token_id}"): Case(),
    ("DELETE", "/tokens/scoped/{token_id}"): Case(),
    ("POST", "/browser-tokens/revoke-user"): Case(body={"external_user_id": "dr-smith"}),
    ("GET", "/tenant/branding"): Case(weak="usage:read"),
    ("PUT", "/tenant/branding"): Case(body={"custom_app_name": "ClinicIQ"}),
    ("DELETE", "/tenant/branding"): Case(),
    ("GET", "/settings/branding"): Case(),
    ("PUT", "/settings/branding"): Case(body={"branding": {"product_name": "ClinicIQ"}}),
    ("DELETE", "/settings/branding"): Case(),
    ("PUT", "/tenant/branding/wallpaper"): Case(body=lambda w: _png()),
    ("PUT", "/tenant/branding/logo"): Case(body=lambda w: _png()),
    ("GET", "/tenant/browser-origins"): Case(),
    ("PUT", "/tenant/browser-origins"): Case(body={"origins": ["https://app.example.org"]}),
}


def _site() -> bytes:
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("index.html")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"<p/>\n"))
    return out.getvalue()


def _png() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="PNG")
    return out.getvalue()


def _token_body(world: dict[str, Any]) -> dict[str, Any]:
    return {"workspace_id": world["workspace_id"], "permissions": ["sandbox:read"],
            "external_user_id": "dr-smith"}


def test_every_route_has_a_case(base_url, anon) -> None:
    paths = anon.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path[len(API_PREFIX):])
              for path, operations in paths.items() if path.startswith(API_PREFIX)
              for method in operations}
    assert routes - CASES.keys() == set(), "routes without a cross-tenant case"
    assert CASES.keys() - routes == set(), "cases for routes that do not exist"


def _world(org: Org) -> dict[str, Any]:
    ws = org.workspace()
    ws2 = org.workspace()
    project = org.project(ws["id"])
    key = org.post("/api/v1/api-keys", {"name": "victim"}).json()["data"]
    # Named like the organization: the by-name route's {name} and the rename body share "name".
    sandbox = _made(org.post("/api/v1/sandboxes", {"workspace_id": ws["id"], "name": org.name}))
    _made(org.post(f"/api/v1/sandboxes/{sandbox['id']}/fs/write",
                   {"path": "hello.txt", "content": "hello"}))
    preview = _made(org.post(f"/api/v1/sandboxes/{sandbox['id']}/previews", {"port": 5173}))
    process = _made(org.post(f"/api/v1/sandboxes/{sandbox['id']}/processes",
                             {"command": "sleep 60"}))
    database = _made(org.post("/api/v1/databases", {"workspace_id": ws["id"], "engine": "sqlite"}))
    deployment = _made(org.post("/api/v1/deployments", {"name": "Site",
                                                        "project_id": project["id"]}))
    computer = _made(org.post("/api/v1/computers", {"name": "desk", "workspace_id": ws["id"]}))
    domain = _made(org.post(f"/api/v1/deployments/{deployment['id']}/domains", _domain({})))
    computer_domain = _made(org.post(f"/api/v1/computers/{computer['id']}/domains", _fqdn({})))
    project_domain = _made(org.post(f"/api/v1/projects/{project['id']}/domains", _domain({})))
    sandbox_domain = _made(org.post(f"/api/v1/sandboxes/{sandbox['id']}/domains", _domain({})))
    version = _made(org.client.post(f"/api/v1/deployments/{deployment['id']}/versions",
                                    content=_site(), params={"promote": "true"}))["version"]
    token = _made(org.post("/api/v1/browser-tokens", {"workspace_id": ws["id"],
                                                      "permissions": ["sandbox:read"]}))
    webhook = _made(org.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hooks",
                                                  "events": ["*"]}))
    return {"tenant_id": org.tenant_id, "id_or_slug": org.slug, "name": org.name,
            "workspace_id": ws["id"], "workspace2_id": ws2["id"], "project_id": project["id"],
            "key_id": key["id"], "sandbox_id": sandbox["id"], "preview_id": preview["id"],
            "process_id": process["id"],
            "file_path": "hello.txt", "database_id": database["id"],
            "deployment_id": deployment["id"], "computer_id": computer["id"],
            "domain_id": domain["id"], "computer_domain_id": computer_domain["id"],
            "project_domain_id": project_domain["id"], "token_id": token["id"],
            "sandbox_domain_id": sandbox_domain["id"],
            "version_id": version["id"], "webhook_id": webhook["id"],
            "window_id": "4194305", "verb": "maximize"}  # a desktop's window, and what to do


def _made(resp: Any) -> dict[str, Any]:
    assert resp.status_code in (200, 201), resp.text
    body = resp.json()
    return body["data"] if "data" in body else body


def _request(client: Any, method: str, template: str, case: Case, world: dict[str, Any],
             body_world: dict[str, Any] | None = None) -> Any:
    body = case.body(body_world or world) if callable(case.body) else case.body
    ids = {**world, **{slot: world[key] for slot, key in case.path_ids.items()}}
    raw = isinstance(body, bytes)  # an image upload
    return client.request(method, API_PREFIX + template.format(**ids),
                          json=None if raw else body, content=body if raw else None,
                          params=case.params)


ROUTES = sorted(CASES)


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_isolation(method, template, new_org, anon):
    owner, intruder = new_org(), new_org()
    case = CASES[(method, template)]
    world = _world(owner)

    assert _request(anon, method, template, case, world).status_code == 401

    revoked = owner.post("/api/v1/api-keys", {"name": "gone"}).json()["data"]
    owner.delete(f"/api/v1/api-keys/{revoked['id']}")
    anon.headers["Authorization"] = f"Bearer {revoked['key']}"
    assert _request(anon, method, template, case, world).status_code == 401
    del anon.headers["Authorization"]

    weak = owner.post("/api/v1/api-keys", {"name": "weak", "scopes": [case.weak]}).json()["data"]
    anon.headers["Authorization"] = f"Bearer {weak['key']}"
    resp = _request(anon, method, template, case, world)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "PERMISSION_DENIED"
    del anon.headers["Authorization"]

    if "{" in template or case.refers:
        # The intruder names the owner's objects (in the path or the body) → 404, nothing changes.
        intruder_world = _world(intruder)
        path_world = world if "{" in template else intruder_world
        body_world = {**intruder_world, **{k: world[k] for k in case.refers.values()}}
        resp = _request(intruder.client, method, template, case, path_world, body_world)
        assert resp.status_code == 404, resp.text
        assert world["workspace_id"] in {w["id"] for w in owner.get("/api/v1/workspaces").json()["data"]}
    if case.lists:
        seen = intruder.get(API_PREFIX + template, params=case.params).text
        assert world[case.lists] not in seen

    resp = _request(owner.client, method, template, case, world)
    assert resp.status_code == case.owner, resp.text
