"""The edge in the processes operators run (issue "The edge", done-when): a real `hostplane
serve` answers the preview URL its own API returns (with the README's defaults: *.localhost on
port HOSTPLANE_EDGE_PORT), a published deployment at its fallback, branded and exact domains
(verified against the loopback DNS server), a private preview, a WebSocket and an SSE stream; a
second, separate `hostplane edge` process over the same database serves the same hosts and sees
a sandbox stop within a second. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.test_publish import archive
from tests.conftest import _free_port
from tests.edge.helpers import APP, via_edge, wait_for, ws_via_edge


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hostplane.cli", *argv], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with_group = os.getpgid(proc.pid)
    os.killpg(with_group, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(with_group, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def served(database_url: str, settings, tmp_path_factory) -> Iterator[dict[str, object]]:
    """`hostplane serve` and a separate `hostplane edge`, with the product's default naming."""
    data = tmp_path_factory.mktemp("served")
    api_port, edge_port, second_port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "HOSTPLANE_DATA_DIR": str(data), "HOSTPLANE_DATABASE_URL": database_url,
           "HOSTPLANE_EDGE_PORT": str(edge_port), "HOSTPLANE_PUBLIC_PORT": str(edge_port),
           "HOSTPLANE_SANDBOX_ISOLATION": settings.sandbox_isolation,
           "HOSTPLANE_DNS_NAMESERVERS": settings.dns_nameservers,
           "HOSTPLANE_API_URL": f"http://127.0.0.1:{api_port}"}
    for name in ("HOSTPLANE_MANAGED_DOMAIN", "HOSTPLANE_PREVIEW_DOMAIN", "HOSTPLANE_PUBLIC_SCHEME"):
        env.pop(name, None)
    serve = _start(["serve", "--port", str(api_port), "--no-access-log"], env, data / "serve.log")
    edge = None
    try:
        wait_for(lambda: _up(f"http://127.0.0.1:{api_port}/healthz"), 60)
        edge = _start(["edge", "--port", str(second_port)], env, data / "edge.log")
        wait_for(lambda: _up(f"http://127.0.0.1:{second_port}/", any_status=True), 60)
        made = subprocess.run([sys.executable, "-m", "hostplane.cli", "accounts", "create",
                               "--name", f"Served {api_port}", "--json"], env=env,
                              capture_output=True, check=True)
        account = json.loads(made.stdout)
        client = httpx.Client(base_url=f"http://127.0.0.1:{api_port}/api/v1", timeout=30,
                              headers={"Authorization": f"Bearer {account['api_key']}"})
        yield {"api": client, "edge": f"http://127.0.0.1:{edge_port}",
               "second": f"http://127.0.0.1:{second_port}", "edge_port": edge_port,
               "slug": account["slug"], "database_url": database_url}
        client.close()
    finally:
        for proc in (edge, serve):
            if proc is not None:
                _stop(proc)


def _up(url: str, any_status: bool = False) -> bool:
    try:
        status = httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return False
    return any_status or status == 200


def test_the_preview_url_the_api_returns_opens_as_it_is(served):
    api = served["api"]
    sandbox = api.post("/sandboxes", json={}).json()["data"]
    url = urlsplit(sandbox["preview_url"])
    assert url.scheme == "http" and url.port == served["edge_port"]
    assert url.hostname.endswith(".sandbox.localhost")  # Chromium resolves it to loopback
    api.post(f"/sandboxes/{sandbox['id']}/fs/write", json={"path": "app.py", "content": APP})
    api.post(f"/sandboxes/{sandbox['id']}/processes", json={"command": "python3 app.py 5173 dev"})
    wait_for(lambda: api.get(f"/sandboxes/{sandbox['id']}/ports").json()["data"]["ports"])
    for edge in (served["edge"], served["second"]):
        resp = via_edge(edge, url.netloc, "/")
        assert (resp.status_code, resp.text) == (200, "dev /")

    async def talk() -> str:
        async with ws_via_edge(served["edge"], url.hostname, "/ws") as ws:
            await ws.send("served")
            return await ws.recv()

    assert asyncio.run(talk()) == "echo: served"
    with httpx.stream("GET", served["edge"] + "/sse", headers={"Host": url.netloc},
                      timeout=30) as resp:
        events = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert len(events) == 3

    # Two edge processes converge on a change within a second.
    assert api.post(f"/sandboxes/{sandbox['id']}/stop").status_code == 200
    stopped_at = time.monotonic()
    for edge in (served["edge"], served["second"]):
        wait_for(lambda edge=edge: via_edge(edge, url.netloc).status_code == 503, 5)
    assert time.monotonic() - stopped_at < 1.0


def test_a_published_deployment_is_served_at_its_fallback(served):
    api = served["api"]
    dep = api.post("/deployments", json={"name": "Lead Magnet"}).json()["data"]
    resp = api.post(f"/deployments/{dep['id']}/versions", params={"promote": "true"},
                    content=archive(("index.html", b"<h1>live</h1>")),
                    headers={"Content-Type": "application/gzip"})
    assert resp.status_code == 201, resp.text
    url = urlsplit(api.get(f"/deployments/{dep['id']}").json()["data"]["public_url"])
    assert url.hostname == f"lead-magnet.{served['slug']}.localhost"
    for edge in (served["edge"], served["second"]):
        assert via_edge(edge, url.netloc, "/").text == "<h1>live</h1>"


def test_branded_and_exact_domains_and_a_private_preview(served, zone):
    import uuid

    from tests.api.test_spec_example import create_dns

    api, site = served["api"], f"site{uuid.uuid4().hex[:10]}.com"
    dep = api.post("/deployments", json={"name": "Program"}).json()["data"]
    api.post(f"/deployments/{dep['id']}/versions", params={"promote": "true"},
             content=archive(("index.html", b"<h1>program</h1>")),
             headers={"Content-Type": "application/gzip"})
    branded = api.put("/tenant/deployment-domain", json={"deployment_domain": f"apps.{site}"})
    create_dns(zone, branded.json()["dns_records"])
    assert api.post("/tenant/deployment-domain/verify").json()["verified"] is True
    exact = api.post(f"/deployments/{dep['id']}/domains", json={"domain": f"program.{site}"})
    record = exact.json()["data"]
    create_dns(zone, record["dns_records"])
    assert api.post(f"/custom-domains/{record['id']}/verify").json()["data"]["verified"] is True
    assert api.get(f"/deployments/{dep['id']}").json()["data"]["url"].startswith(
        f"http://program.{site}")
    for host in (f"program.apps.{site}", f"program.{site}"):
        assert via_edge(served["edge"], host).text == "<h1>program</h1>"

    sandbox = api.post("/sandboxes", json={"visibility": "private"}).json()["data"]
    api.post(f"/sandboxes/{sandbox['id']}/fs/write", json={"path": "app.py", "content": APP})
    api.post(f"/sandboxes/{sandbox['id']}/processes", json={"command": "python3 app.py 5173 p"})
    wait_for(lambda: api.get(f"/sandboxes/{sandbox['id']}/ports").json()["data"]["ports"])
    host = urlsplit(sandbox["preview_url"]).netloc
    assert via_edge(served["edge"], host).status_code == 401
    token = api.post("/browser-tokens", json={
        "workspace_id": sandbox["workspace_id"], "permissions": ["preview:read"],
        "sandbox_ids": [sandbox["id"]]}).json()["data"]["token"]
    traded = via_edge(served["edge"], host, f"/x?preview_token={token}")
    assert traded.status_code == 303 and traded.headers["location"] == "/x"
    cookie = traded.headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith("preview_token=")  # http: no __Host- prefix, which needs https
    page = via_edge(served["edge"], host, "/x", headers={"Cookie": cookie})
    assert (page.status_code, page.text) == (200, "p /x")


def test_separate_edge_processes_share_one_port(served, tmp_path):
    """`hostplane edge` started twice on one port: both serve (SO_REUSEPORT), so a new edge
    can start before the old one stops."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()}
    env.update({"HOSTPLANE_DATA_DIR": str(tmp_path / "unused"),
                "HOSTPLANE_DATABASE_URL": served["database_url"]})
    edges = [_start(["edge", "--port", str(port)], env, tmp_path / f"edge{n}.log")
             for n in range(2)]
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: _up(url, any_status=True), 60)
        time.sleep(1)
        assert all(edge.poll() is None for edge in edges), "an edge could not bind the port"
        assert via_edge(f"http://127.0.0.1:{port}", "nothing.localhost").status_code == 404
    finally:
        for edge in edges:
            _stop(edge)
