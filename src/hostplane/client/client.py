"""`Hostplane` and `AsyncHostplane`: the API from Python, on httpx.

    from hostplane.client import Hostplane

    with Hostplane() as hp:  # HOSTPLANE_API_URL and HOSTPLANE_API_KEY (or MIOSA_*)
        sandbox = hp.sandboxes.create(external_workspace_id="clinic_123")
        print(sandbox.preview_url)  # as the server gave it: never build hostnames
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from hostplane.client import resources as r
from hostplane.client._core import AsyncTransport, Options, SyncTransport
from hostplane.client.errors import HostplaneError

DEFAULT_URL = "http://127.0.0.1:8080"


def options(base_url: str | None, api_key: str | None, timeout: float, max_retries: int,
            tenant: str | None) -> Options:
    url = base_url or os.environ.get("HOSTPLANE_API_URL") or os.environ.get(
        "MIOSA_BASE_URL") or DEFAULT_URL
    key = api_key or os.environ.get("HOSTPLANE_API_KEY") or os.environ.get("MIOSA_API_KEY")
    if not key:
        raise HostplaneError(
            "No API key: set HOSTPLANE_API_KEY (or pass api_key=). An operator makes one with "
            "`hostplane accounts create --json` (a new organization) or `hostplane keys create "
            "--tenant ORG --json`.")
    return Options(url, key, timeout, max_retries, tenant)


class _Namespaces:
    def _mount(self, run: Any, pages: Any) -> None:
        self.org = r.Organization(run, pages)
        self.workspaces = r.Workspaces(run, pages)
        self.projects = r.Projects(run, pages)
        self.sandboxes = r.Sandboxes(run, pages)
        self.deployments = r.Deployments(run, pages)
        self.databases = r.Databases(run, pages)
        self.computers = r.Computers(run, pages)
        self.domains = r.Domains(run, pages)
        self.preview_domain = r.OrganizationDomain(run, pages, "preview")
        self.deployment_domain = r.OrganizationDomain(run, pages, "deployment")
        self.branding = r.Branding(run, pages)
        self.browser_tokens = r.BrowserTokens(run, pages)
        self.api_keys = r.ApiKeys(run, pages)
        self.usage = r.Usage(run, pages)
        self.audit_log = r.AuditLog(run, pages)
        self.events = r.Events(run, pages)
        self.webhooks = r.Webhooks(run, pages)


class Hostplane(_Namespaces):
    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 timeout: float = 30.0, max_retries: int = 3, tenant: str | None = None,
                 http: httpx.Client | None = None) -> None:
        self._transport = SyncTransport(
            options(base_url, api_key, timeout, max_retries, tenant), http)
        self._mount(self._transport.send, self._transport.pages)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Hostplane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncHostplane(_Namespaces):
    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 timeout: float = 30.0, max_retries: int = 3, tenant: str | None = None,
                 http: httpx.AsyncClient | None = None) -> None:
        self._transport = AsyncTransport(
            options(base_url, api_key, timeout, max_retries, tenant), http)
        self._mount(self._transport.send, self._transport.pages)

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncHostplane:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
