"""Test data factories: organizations with keys and HTTP clients, unique names every call."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from hostplane.api.container import Container
from hostplane.keys.service import create_key
from hostplane.tenancy.organizations import create_organization

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix} {next(_counter)} {uuid.uuid4().hex[:6]}"


@dataclass
class Org:
    """An organization as a test sees it: ids, its key and a client that sends the key."""

    tenant_id: str
    slug: str
    name: str
    api_key: str
    client: httpx.Client

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.post(path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.put(path, json=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.patch(path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.delete(path, **kw)

    def workspace(self, name: str | None = None, **extra: Any) -> dict[str, Any]:
        resp = self.post("/api/v1/workspaces", {"name": name or unique("Workspace"), **extra})
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    def project(self, workspace_id: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"name": name or unique("Project"), "workspace_id": workspace_id, **extra}
        resp = self.post("/api/v1/projects", body)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()["data"]


def make_org(container: Container, base_url: str, *, name: str | None = "", **kw: Any) -> Org:
    """A new organization. name="" gives a unique set-up name; name=None leaves setup required."""
    if name == "":
        name = unique("Org")
    with container.database.transaction() as session:
        tenant = create_organization(session, name=name, email=None, now=container.clock.now())
        _key, secret = create_key(session, tenant_id=tenant.id, name="test", **kw)
    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )
    return Org(tenant.id, tenant.slug, tenant.name, secret, client)
