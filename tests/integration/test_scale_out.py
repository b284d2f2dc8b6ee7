"""Scale-out over one PostgreSQL (issue "Events, webhooks …" item 3): two `hostplane api`, two
`hostplane worker` and two `hostplane edge` processes, as separate as on separate machines but for
the data dir they share (as shared storage would be). A domain verified through one API is served
by the other edge within a second; a token revoked through one API stops working on both edges
within a second; two workers deliver each webhook event exactly once, in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.test_publish import archive
from tests.api.test_spec_example import create_dns
from tests.api.test_webhooks import Receiver
from tests.conftest import _free_port
from tests.edge.helpers import APP, via_edge, wait_for
from tests.edge.test_serve import _start, _stop, _up


@pytest.fixture(scope="module")
def cluster(database_url: str, settings, tmp_path_factory) -> Iterator[dict[str, object]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes write at once only on PostgreSQL")
    data = tmp_path_factory.mktemp("cluster")
    apis, edges = [_free_port(), _free_port()], [_free_port(), _free_port()]
    env = {**os.environ, "HOSTPLANE_DATA_DIR": str(data), "HOSTPLANE_DATABASE_URL": database_url,
           "HOSTPLANE_SANDBOX_ISOLATION": settings.sandbox_isolation,
           "HOSTPLANE_DNS_NAMESERVERS": settings.dns_nameservers,
           "HOSTPLANE_WEBHOOK_ALLOW_LOOPBACK": "1", "HOSTPLANE_PUBLIC_PORT": str(edges[0]),
           "HOSTPLANE_API_URL": f"http://127.0.0.1:{apis[0]}"}
    for name in ("HOSTPLANE_MANAGED_DOMAIN", "HOSTPLANE_PREVIEW_DOMAIN", "HOSTPLANE_PUBLIC_SCHEME"):
        env.pop(name, None)
    procs = []
    try:
        for n, port in enumerate(apis):
            procs.append(_start(["api", "--port", str(port)], env, data / f"api{n}.log"))
        for n, port in enumerate(edges):
            procs.append(_start(["edge", "--port", str(port)], env, data / f"edge{n}.log"))
        for n in range(2):
            procs.append(_start(["worker", "--interval", "1"], env, data / f"worker{n}.log"))
        for port in apis:
            wait_for(lambda port=port: _up(f"http://127.0.0.1:{port}/healthz"), 60)
        for port in edges:
            wait_for(lambda port=port: _up(f"http://127.0.0.1:{port}/", any_status=True), 60)
        made = subprocess.run([sys.executable, "-m", "hostplane.cli", "accounts", "create",
                               "--name", f"Cluster {apis[0]}", "--json"], env=env,
                              capture_output=True, check=True)
        key = json.loads(made.stdout)["api_key"]
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30,
                                headers={"Authorization": f"Bearer {key}"}) for port in apis]
        yield {"api": clients, "edges": [f"http://127.0.0.1:{p}" for p in edges]}
        for client in clients:
            client.close()
    finally:
        for proc in procs:
            _stop(proc)


def converged(edges: list[str], host: str, check, path: str = "/", **kw) -> float:
    """Seconds until every edge's answer for `host` passes `check`."""
    started = time.monotonic()
    for edge in edges:
        wait_for(lambda edge=edge: check(via_edge(edge, host, path, **kw)), 10)
    return time.monotonic() - started


def test_a_domain_verified_through_one_api_is_served_by_every_edge_within_a_second(
        cluster, zone):
    first, second = cluster["api"]
    dep = first.post("/deployments", json={"name": "Clustered"}).json()["data"]
    published = second.post(f"/deployments/{dep['id']}/versions", params={"promote": "true"},
                            content=archive(("index.html", b"<h1>both</h1>")),
                            headers={"Content-Type": "application/gzip"})
    assert published.status_code == 201, published.text
    name = f"app{uuid.uuid4().hex[:8]}.example.org"
    record = first.post(f"/deployments/{dep['id']}/domains", json={"domain": name}).json()["data"]
    for edge in cluster["edges"]:
        assert via_edge(edge, name).status_code == 404  # not verified: not routed
    create_dns(zone, record["dns_records"])
    assert first.post(f"/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    took = converged(cluster["edges"], name, lambda r: r.text == "<h1>both</h1>")
    assert took < 1.0, f"the edges took {took:.2f} s"


def test_a_token_revoked_through_one_api_stops_on_every_edge_within_a_second(cluster):
    first, second = cluster["api"]
    sandbox = first.post("/sandboxes", json={"visibility": "private"}).json()["data"]
    first.post(f"/sandboxes/{sandbox['id']}/fs/write", json={"path": "app.py", "content": APP})
    first.post(f"/sandboxes/{sandbox['id']}/processes", json={"command": "python3 app.py 5173 c"})
    wait_for(lambda: second.get(f"/sandboxes/{sandbox['id']}/ports").json()["data"]["ports"])
    token = second.post("/browser-tokens", json={
        "workspace_id": sandbox["workspace_id"], "permissions": ["preview:read"],
        "sandbox_ids": [sandbox["id"]]}).json()["data"]
    host = urlsplit(sandbox["preview_url"]).netloc
    bearer = {"headers": {"Authorization": f"Bearer {token['token']}"}}
    converged(cluster["edges"], host, lambda r: r.status_code == 200, **bearer)
    assert first.delete(f"/browser-tokens/{token['id']}").status_code == 200
    took = converged(cluster["edges"], host, lambda r: r.status_code == 401, **bearer)
    assert took < 1.0, f"the edges took {took:.2f} s"


def test_two_workers_deliver_each_event_once_in_order(cluster):
    first, second = cluster["api"]
    receiver = Receiver()
    try:
        made = first.post("/webhooks", json={"url": receiver.url, "events": ["workspace.*"]})
        assert made.status_code == 201, made.text
        created = []
        for n in range(12):
            resp = (first, second)[n % 2].post("/workspaces",
                                               json={"name": f"W{n} {uuid.uuid4().hex[:6]}"})
            assert resp.status_code in (200, 201), resp.text
            created.append(resp.json()["id"])
        wait_for(lambda: len(receiver.got) >= len(created), 30)
        time.sleep(2)  # a duplicate would arrive within the workers' next passes
        ids = [headers["webhook-id"] for headers, _ in receiver.got]
        assert len(ids) == len(set(ids)) == len(created)  # each once
        assert ids == sorted(ids, key=int)  # in order
        assert [e["data"]["object_id"] for e in receiver.events()] == created
    finally:
        receiver.server.shutdown()
