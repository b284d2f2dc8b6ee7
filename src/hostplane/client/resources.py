"""The API, resource by resource. Each method describes its request as a `Call`; the client it
belongs to sends it, so one definition serves `Hostplane` (answers) and `AsyncHostplane`
(awaitables). `iter(...)` methods page through a whole list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hostplane.client import models as m
from hostplane.client._core import Call


class Resource:
    def __init__(self, run: Callable[[Call], Any], pages: Callable[[Call], Any]) -> None:
        self._run, self._pages = run, pages


class Organization(Resource):
    def show(self) -> Any:
        """The organization the key belongs to (`setup_required` says whether it is named)."""
        return self._run(Call("GET", "/platform/tenants/current", model=m.Organization))

    def setup(self, tenant_id: str, name: str) -> Any:
        """Name it: this fixes the permanent slug, once."""
        return self._run(Call("PUT", f"/tenants/{tenant_id}", json={"name": name},
                              model=m.Organization))

    def checklist(self) -> Any:
        return self._run(Call("GET", "/tenant/setup", model=m.Checklist))


class Workspaces(Resource):
    def create(self, name: str, *, external_workspace_id: str | None = None,
               **fields: Any) -> Any:
        return self._run(Call("POST", "/workspaces", create=True, model=m.Workspace, json={
            "name": name, "external_workspace_id": external_workspace_id, **fields}))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/workspaces", params=filters, model=m.Workspace, many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/workspaces", params=filters, model=m.Workspace,
                                many=True))

    def get(self, workspace_id: str) -> Any:
        return self._run(Call("GET", f"/workspaces/{workspace_id}", model=m.Workspace))

    def update(self, workspace_id: str, **fields: Any) -> Any:
        return self._run(Call("PATCH", f"/workspaces/{workspace_id}", json=fields,
                              model=m.Workspace))

    def delete(self, workspace_id: str) -> Any:
        return self._run(Call("DELETE", f"/workspaces/{workspace_id}"))


class Projects(Resource):
    def create(self, workspace_id: str, name: str, **fields: Any) -> Any:
        return self._run(Call("POST", "/projects", create=True, model=m.Project, json={
            "workspace_id": workspace_id, "name": name, **fields}))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/projects", params=filters, model=m.Project, many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/projects", params=filters, model=m.Project, many=True))

    def get(self, project_id: str) -> Any:
        return self._run(Call("GET", f"/projects/{project_id}", model=m.Project))

    def delete(self, project_id: str) -> Any:
        return self._run(Call("DELETE", f"/projects/{project_id}"))


class Sandboxes(Resource):
    def create(self, **fields: Any) -> Any:
        """Selectors (`workspace_id`, `project_slug`, `external_workspace_id`, …) and settings
        (`template_id`, `env`, `metadata`, …) as the API takes them."""
        return self._run(Call("POST", "/sandboxes", create=True, model=m.Sandbox, json=fields))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/sandboxes", params=filters, model=m.Sandbox, many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/sandboxes", params=filters, model=m.Sandbox, many=True))

    def get(self, sandbox_id: str) -> Any:
        return self._run(Call("GET", f"/sandboxes/{sandbox_id}", model=m.Sandbox))

    def exec(self, sandbox_id: str, command: str, *, timeout: int | None = None,
             cwd: str | None = None, env: dict[str, str] | None = None) -> Any:
        """Run a command (never retried: it may have side effects)."""
        return self._run(Call("POST", f"/sandboxes/{sandbox_id}/exec", retry=False,
                              model=m.ExecResult,
                              json={"command": command, "timeout": timeout, "cwd": cwd,
                                    "env": env}))

    def expose(self, sandbox_id: str, port: int) -> Any:
        return self._run(Call("POST", f"/sandboxes/{sandbox_id}/expose", json={"port": port},
                              retry=True, model=m.Preview))

    def previews(self, sandbox_id: str) -> Any:
        return self._run(Call("GET", f"/sandboxes/{sandbox_id}/previews", model=m.Preview,
                              many=True))

    def delete(self, sandbox_id: str) -> Any:
        return self._run(Call("DELETE", f"/sandboxes/{sandbox_id}"))

    def change(self, sandbox_id: str, action: str) -> Any:
        """`stop`, `start`, `pause` or `resume` (each safe to repeat)."""
        return self._run(Call("POST", f"/sandboxes/{sandbox_id}/{action}", retry=True,
                              model=m.Sandbox))

    def ports(self, sandbox_id: str) -> Any:
        return self._run(Call("GET", f"/sandboxes/{sandbox_id}/ports", model=m.Ports))

    def start_process(self, sandbox_id: str, command: str, *, cwd: str | None = None,
                      env: dict[str, str] | None = None, timeout: int | None = None) -> Any:
        """Start a background process (never retried: a retry could start it twice)."""
        return self._run(Call("POST", f"/sandboxes/{sandbox_id}/processes", retry=False,
                              model=m.Process, json={"command": command, "cwd": cwd,
                                                     "env": env, "timeout": timeout}))

    def processes(self, sandbox_id: str) -> Any:
        return self._run(Call("GET", f"/sandboxes/{sandbox_id}/processes", model=m.Process,
                              many=True))

    def stop_process(self, sandbox_id: str, process_id: str) -> Any:
        return self._run(Call("DELETE", f"/sandboxes/{sandbox_id}/processes/{process_id}",
                              model=m.Process))

    def logs(self, sandbox_id: str, process_id: str, *, offset: int | None = None,
             tail: int | None = None) -> Any:
        return self._run(Call("GET", f"/sandboxes/{sandbox_id}/processes/{process_id}/logs",
                              params={"offset": offset, "tail": tail}, model=m.Output))


class Deployments(Resource):
    def create(self, name: str, **fields: Any) -> Any:
        return self._run(Call("POST", "/deployments", create=True, model=m.Deployment,
                              json={"name": name, **fields}))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/deployments", params=filters, model=m.Deployment,
                              many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/deployments", params=filters, model=m.Deployment,
                                many=True))

    def get(self, deployment_id: str) -> Any:
        return self._run(Call("GET", f"/deployments/{deployment_id}", model=m.Deployment))

    def delete(self, deployment_id: str) -> Any:
        return self._run(Call("DELETE", f"/deployments/{deployment_id}"))

    def publish(self, deployment_id: str, source_sandbox_id: str, *,
                output_path: str | None = None, promote: bool = True) -> Any:
        """A sandbox folder becomes a new version: {deployment, version, promoted}."""
        return self._run(Call("POST", f"/deployments/{deployment_id}/publish", create=True,
                              json={"source_sandbox_id": source_sandbox_id,
                                    "output_path": output_path, "promote": promote}))

    def upload(self, deployment_id: str, archive: bytes, *, promote: bool = False) -> Any:
        """A built site (.tar.gz of regular files) becomes a new version."""
        return self._run(Call("POST", f"/deployments/{deployment_id}/versions", create=True,
                              content=archive, content_type="application/gzip",
                              params={"promote": str(promote).lower()}))

    def versions(self, deployment_id: str) -> Any:
        return self._run(Call("GET", f"/deployments/{deployment_id}/versions"))

    def promote(self, deployment_id: str, version_id: str) -> Any:
        return self._run(Call("POST", f"/deployments/{deployment_id}/versions/{version_id}"
                                      "/promote", retry=True, model=m.Deployment))

    def rollback(self, deployment_id: str, version_id: str | None = None) -> Any:
        """To `version_id`, or to the version before the active one."""
        return self._run(Call("POST", f"/deployments/{deployment_id}/rollback", retry=True,
                              json={"version_id": version_id}, model=m.Deployment))


class Databases(Resource):
    def create(self, **fields: Any) -> Any:
        return self._run(Call("POST", "/databases", create=True, model=m.Database, json=fields))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/databases", params=filters, model=m.Database, many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/databases", params=filters, model=m.Database,
                                many=True))

    def get(self, database_id: str) -> Any:
        return self._run(Call("GET", f"/databases/{database_id}", model=m.Database))

    def update(self, database_id: str, **fields: Any) -> Any:
        """A new `name` and/or `metadata`."""
        return self._run(Call("PATCH", f"/databases/{database_id}", json=fields,
                              model=m.Database))

    def credentials(self, database_id: str) -> Any:
        """{engine, url, host, port, database, username, password}."""
        return self._run(Call("GET", f"/databases/{database_id}/credentials"))

    def stop(self, database_id: str) -> Any:
        return self._run(Call("POST", f"/databases/{database_id}/stop", retry=True,
                              model=m.Database))

    def start(self, database_id: str) -> Any:
        return self._run(Call("POST", f"/databases/{database_id}/start", retry=True,
                              model=m.Database))

    def delete(self, database_id: str) -> Any:
        return self._run(Call("DELETE", f"/databases/{database_id}"))


class Computers(Resource):
    def create(self, name: str, **fields: Any) -> Any:
        return self._run(Call("POST", "/computers", create=True, model=m.Computer,
                              json={"name": name, **fields}))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/computers", params=filters, model=m.Computer, many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/computers", params=filters, model=m.Computer,
                                many=True))

    def get(self, computer_id: str) -> Any:
        return self._run(Call("GET", f"/computers/{computer_id}", model=m.Computer))

    def update(self, computer_id: str, **fields: Any) -> Any:
        """A new `name` and/or `metadata`."""
        return self._run(Call("PATCH", f"/computers/{computer_id}", json=fields,
                              model=m.Computer))

    def delete(self, computer_id: str) -> Any:
        return self._run(Call("DELETE", f"/computers/{computer_id}"))


class Domains(Resource):
    """Exact custom domains, on a deployment, computer or project."""

    def add(self, domain: str, *, target_type: str, target_id: str, **fields: Any) -> Any:
        return self._run(Call("POST", "/custom-domains", create=True, model=m.CustomDomain,
                              json={"domain": domain, "target_type": target_type,
                                    "target_id": target_id, **fields}))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/custom-domains", params=filters, model=m.CustomDomain,
                              many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/custom-domains", params=filters,
                                model=m.CustomDomain, many=True))

    def get(self, domain_id: str) -> Any:
        return self._run(Call("GET", f"/custom-domains/{domain_id}", model=m.CustomDomain))

    def verify(self, domain_id: str) -> Any:
        """Ask DNS now (rate-limited per organization: RateLimited carries retry_after)."""
        return self._run(Call("POST", f"/custom-domains/{domain_id}/verify", retry=True,
                              model=m.CustomDomain))

    def remove(self, domain_id: str) -> Any:
        """Detach it; answers {id, object, deleted: true}."""
        return self._run(Call("DELETE", f"/custom-domains/{domain_id}"))

    def events(self, domain_id: str) -> Any:
        return self._run(Call("GET", f"/custom-domains/{domain_id}/events",
                              model=m.DomainEvent, many=True))


class OrganizationDomain(Resource):
    """The preview domain or the deployment domain (`kind`)."""

    def __init__(self, run: Callable[[Call], Any], pages: Callable[[Call], Any],
                 kind: str) -> None:
        super().__init__(run, pages)
        self.kind, self._path = kind, f"/tenant/{kind}-domain"

    def get(self) -> Any:
        return self._run(Call("GET", self._path, model=m.OrganizationDomain))

    def set(self, domain: str) -> Any:
        return self._run(Call("PUT", self._path, json={"domain": domain},
                              model=m.OrganizationDomain))

    def verify(self) -> Any:
        return self._run(Call("POST", f"{self._path}/verify", retry=True,
                              model=m.OrganizationDomain))

    def delete(self) -> Any:
        return self._run(Call("DELETE", self._path, model=m.OrganizationDomain))

    def events(self) -> Any:
        return self._run(Call("GET", f"{self._path}/events", model=m.DomainEvent, many=True))


class Branding(Resource):
    def get(self) -> Any:
        return self._run(Call("GET", "/tenant/branding", model=m.Branding))

    def set(self, **fields: Any) -> Any:
        """A merge: only the fields given change (None resets one)."""
        return self._run(Call("PUT", "/tenant/branding", json=fields, keep_none=True,
                              model=m.Branding))

    def delete(self) -> Any:
        return self._run(Call("DELETE", "/tenant/branding", model=m.Branding))

    def upload_wallpaper(self, image: bytes, content_type: str = "image/png") -> Any:
        return self._run(Call("PUT", "/tenant/branding/wallpaper", content=image,
                              content_type=content_type, model=m.Branding))

    def upload_logo(self, image: bytes, content_type: str = "image/png") -> Any:
        return self._run(Call("PUT", "/tenant/branding/logo", content=image,
                              content_type=content_type, model=m.Branding))


class BrowserTokens(Resource):
    def create(self, permissions: list[str], *, workspace_id: str | None = None,
               project_id: str | None = None, external_workspace_id: str | None = None,
               external_user_id: str | None = None, ttl_seconds: int | None = None,
               sandbox_ids: list[str] | None = None, ports: list[int] | None = None) -> Any:
        return self._run(Call("POST", "/browser-tokens", create=True, model=m.BrowserToken,
                              secret="token",
                              json={"permissions": permissions, "workspace_id": workspace_id,
                                    "project_id": project_id,
                                    "external_workspace_id": external_workspace_id,
                                    "external_user_id": external_user_id,
                                    "ttl_seconds": ttl_seconds, "sandbox_ids": sandbox_ids,
                                    "ports": ports}))

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/browser-tokens", params=filters, model=m.BrowserToken,
                              many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/browser-tokens", params=filters, model=m.BrowserToken,
                                many=True))

    def revoke(self, token_id: str) -> Any:
        return self._run(Call("DELETE", f"/browser-tokens/{token_id}", model=m.BrowserToken))

    def revoke_user(self, external_user_id: str) -> Any:
        return self._run(Call("POST", "/browser-tokens/revoke-user", retry=True,
                              json={"external_user_id": external_user_id}))


class ApiKeys(Resource):
    def create(self, name: str, scopes: list[str] | None = None) -> Any:
        return self._run(Call("POST", "/api-keys", create=True, model=m.ApiKey, secret="key",
                              json={"name": name, "scopes": scopes}))

    def list(self) -> Any:
        return self._run(Call("GET", "/api-keys", model=m.ApiKey, many=True))

    def revoke(self, key_id: str) -> Any:
        return self._run(Call("DELETE", f"/api-keys/{key_id}", model=m.ApiKey))

    def rotate(self, key_id: str) -> Any:
        return self._run(Call("POST", f"/api-keys/{key_id}/rotate", model=m.ApiKey))


class Usage(Resource):
    def get(self, **params: Any) -> Any:
        """`group_by` (workspace_id, external_user_id, external_project_id), `period`, …"""
        return self._run(Call("GET", "/usage", params=params))


class AuditLog(Resource):
    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/audit-log", params=filters, model=m.AuditEvent,
                              many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/audit-log", params=filters, model=m.AuditEvent,
                                many=True))


class Events(Resource):
    """The event log, oldest first; `types` takes patterns such as "sandbox.*,domain.verified"."""

    def list(self, **filters: Any) -> Any:
        return self._run(Call("GET", "/events", params=filters, model=m.Event, many=True))

    def iter(self, **filters: Any) -> Any:
        return self._pages(Call("GET", "/events", params=filters, model=m.Event, many=True))


class Webhooks(Resource):
    def create(self, url: str, events: list[str], *, description: str | None = None) -> Any:
        return self._run(Call("POST", "/webhooks", create=True, model=m.WebhookCreated,
                              secret="secret",
                              json={"url": url, "events": events, "description": description}))

    def list(self) -> Any:
        return self._run(Call("GET", "/webhooks", model=m.Webhook, many=True))

    def get(self, webhook_id: str) -> Any:
        return self._run(Call("GET", f"/webhooks/{webhook_id}", model=m.Webhook))

    def update(self, webhook_id: str, **fields: Any) -> Any:
        return self._run(Call("PATCH", f"/webhooks/{webhook_id}", json=fields, retry=True,
                              model=m.Webhook))

    def delete(self, webhook_id: str) -> Any:
        return self._run(Call("DELETE", f"/webhooks/{webhook_id}", model=m.Webhook))

    def test(self, webhook_id: str) -> Any:
        return self._run(Call("POST", f"/webhooks/{webhook_id}/test", retry=False,
                              model=m.WebhookDelivery))

    def rotate_secret(self, webhook_id: str) -> Any:
        return self._run(Call("POST", f"/webhooks/{webhook_id}/rotate-secret", retry=False,
                              model=m.WebhookCreated))

    def deliveries(self, webhook_id: str, *, limit: int | None = None) -> Any:
        return self._run(Call("GET", f"/webhooks/{webhook_id}/deliveries",
                              params={"limit": limit}, model=m.WebhookDelivery, many=True))
