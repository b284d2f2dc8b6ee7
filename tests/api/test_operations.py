"""Operations (issue "Events, webhooks …" item 5): readiness beside liveness, and Prometheus
metrics of what the platform is doing, readable only from the allowed networks."""

from __future__ import annotations

import asyncio

import httpx


def get(app, path: str, *, peer: str = "127.0.0.1") -> httpx.Response:
    """One request to an app in this process, as if from `peer`."""
    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(ask())


def test_readyz_says_the_database_answers_and_its_schema_is_current(anon):
    resp = anon.get("/readyz")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": "ready",
                           "checks": {"database": "ok", "migrations": "current"}}


def test_readyz_is_503_with_the_reason_when_a_migration_is_missing(container, tmp_path):
    from hostplane.api.app import create_app
    from hostplane.db.engine import Database
    from hostplane.db.migrate import upgrade
    from hostplane.settings import Settings

    behind = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(behind, "0022")
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/old.db")
    resp = get(create_app(settings, migrate=False), "/readyz")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
    assert resp.json()["checks"]["migrations"].endswith("not applied")
    behind.engine.dispose()


def test_metrics_count_requests_by_route_template_and_read_the_platform(org, anon):
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    org.get(f"/api/v1/sandboxes/{sandbox['id']}")
    body = anon.get("/metrics").text
    assert 'route="/api/v1/sandboxes/{sandbox_id}"' in body and sandbox["id"] not in body
    assert "http_request_duration_seconds_bucket" in body
    assert 'sandboxes{state="running"}' in body
    assert "webhook_backlog_events" in body and "domain_check_lag_seconds" in body


def test_metrics_are_a_404_outside_the_allowed_networks(container):
    from hostplane.api.app import create_app

    app = create_app(container=container, migrate=False)
    assert get(app, "/metrics", peer="203.0.113.9").status_code == 404
    assert get(app, "/metrics", peer="127.0.0.1").status_code == 200


def test_a_database_that_does_not_answer_is_not_ready(container, tmp_path):
    from hostplane.api.app import create_app
    from hostplane.settings import Settings

    settings = Settings(data_dir=tmp_path / "data",
                        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    resp = get(create_app(settings, migrate=False), "/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["database"].startswith("unreachable")


def test_the_edge_counts_its_traffic_by_organization_and_status_class(org, edge_url, backend):
    """Requests and bytes per organization slug: the fast path's relays and the app's pages
    alike; the edge shows them at /metrics when asked by address, never by a tenant's host."""
    import re

    import pytest

    if backend != "sqlite":
        pytest.skip("counted in memory: one database is enough")

    from tests.edge.helpers import preview_host, sandbox_app, via_edge

    def counted(kind: str, status_class: str) -> float:
        body = httpx.get(f"{edge_url}/metrics", timeout=10).text
        found = re.search(rf'^edge_{kind}_total{{organization="{org.slug}",'
                          rf'status_class="{status_class}"}} (\S+)$', body, re.M)
        return float(found.group(1)) if found else 0.0

    host = preview_host(sandbox_app(org, "counted"))
    assert via_edge(edge_url, host, "/").status_code == 200  # the fast path
    assert via_edge(edge_url, host.replace("5173-", "5999-", 1), "/").status_code >= 500
    assert counted("requests", "2xx") == 1 and counted("response_bytes", "2xx") > 0
    assert counted("requests", "5xx") + counted("requests", "4xx") == 1  # the edge's page
    tenant_path = via_edge(edge_url, host, "/metrics")
    assert "edge_requests_total" not in tenant_path.text  # the sandbox's own /metrics
