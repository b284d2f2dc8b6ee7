"""Sandbox previews through the edge (issue "The edge" §2–§4): a dev server in a sandbox
answers at its preview URL, routed per request, streamed both ways, with forwarding headers set
and platform credentials stripped; stopped, destroyed and closed things each get their page.
Real sandboxes, a real uvicorn edge, real HTTP and WebSockets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import httpx
import pytest
from tests.edge.helpers import (
    SANDBOXES,
    preview_host,
    raw,
    sandbox_app,
    via_edge,
    ws_via_edge,
)


def test_a_dev_server_answers_at_its_preview_url(org, edge_url):
    sandbox = sandbox_app(org, "alpha")
    assert sandbox["preview_url"].startswith("https://5173-")
    resp = via_edge(edge_url, preview_host(sandbox), "/hello?x=1")
    assert resp.status_code == 200, resp.text
    assert resp.text == "alpha /hello?x=1"
    # The app's own banner headers never reach the end user; nor does any of ours.
    for name in ("server", "x-powered-by", "via"):
        assert name not in resp.headers


def test_the_sandbox_sees_forwarding_headers_and_no_platform_credentials(org, edge_url):
    sandbox = sandbox_app(org, "beta")
    host = preview_host(sandbox)
    resp = via_edge(edge_url, host, "/headers", headers={
        "Authorization": f"Bearer {org.api_key}",
        "X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example", "Forwarded": "for=6.6.6.6",
        "X-Real-IP": "6.6.6.6", "X-MIOSA-Tenant": "other",
        "Cookie": "theirs=1; __Host-preview_token=abc; preview_token=def",
    })
    seen = {k.lower(): v for k, v in resp.json()["headers"]}
    assert seen["host"] == "localhost:5173"  # masked, so dev servers' host checks pass
    assert seen["x-forwarded-host"] == host
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "https"
    assert seen["forwarded"] == f"for=127.0.0.1;host={host};proto=https"
    assert seen["cookie"] == "theirs=1"
    assert "authorization" not in seen and "x-real-ip" not in seen
    assert not any(k.startswith("x-miosa") for k in seen)
    # The app's own bearer tokens pass through untouched.
    own = via_edge(edge_url, host, "/headers", headers={"Authorization": "Bearer app-session-1"})
    assert ["authorization", "Bearer app-session-1"] in own.json()["headers"]


def test_each_request_on_one_connection_is_routed_by_its_own_host(org, edge_url):
    a, b = sandbox_app(org, "first"), sandbox_app(org, "second")
    requests = b"".join(
        b"GET /%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, preview_host(s).encode())
        for n, s in enumerate((a, b, a)))
    got = raw(edge_url, requests, read_for=2.0)
    assert got.count(b"HTTP/1.1 200") == 3, got
    assert got.index(b"first /0") < got.index(b"second /1") < got.index(b"first /2")


@pytest.mark.parametrize("request_bytes", [
    b"POST /upload HTTP/1.1\r\nHost: {h}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\nGET /count HTTP/1.1\r\nHost: {h}\r\n\r\n",
    b"GET /count HTTP/1.1\r\nHost: {h}\r\nX-A: b\r\n c\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"
    b"0\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: {h}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST /upload HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
    b"3\r\nabc\r\n0\r\n\r\n",
    b"GET /count HTTP/1.1\r\nHost: {h}\r\nHost: {h}\r\n\r\n",
], ids=["cl-and-te", "obs-fold", "bad-chunk-size", "two-lengths", "te-not-chunked-last",
        "two-hosts"])
def test_smuggling_is_refused_before_the_sandbox_sees_anything(org, edge_url, request_bytes):
    sandbox = sandbox_app(org, "smuggle")
    host = preview_host(sandbox)
    got = raw(edge_url, request_bytes.replace(b"{h}", host.encode()))
    assert got.startswith(b"HTTP/1.1 400"), got
    assert b"uvicorn" not in got.lower() and b"hostplane" not in got.lower()
    assert via_edge(edge_url, host, "/count").text == "1"  # only this request arrived


def test_uploads_stream_both_ways_chunked_and_sized(org, edge_url):
    host = preview_host(sandbox_app(org, "upload"))
    blob = bytes(range(256)) * 40_000  # 10 MB

    def pieces():
        for start in range(0, len(blob), 1 << 20):
            yield blob[start:start + (1 << 20)]

    expected = {"length": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    chunked = via_edge(edge_url, host, "/upload", method="POST", content=pieces())
    assert chunked.json() == expected
    sized = via_edge(edge_url, host, "/upload", method="PUT", content=blob)
    assert sized.json() == expected


def test_server_sent_events_arrive_as_they_happen(org, edge_url):
    host = preview_host(sandbox_app(org, "sse"))
    arrivals = []
    with httpx.stream("GET", edge_url + "/sse", headers={"Host": host}, timeout=30) as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        for line in resp.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
    assert len(arrivals) == 3
    assert arrivals[2] - arrivals[0] > 0.4  # not buffered until the end


def test_a_websocket_is_relayed_both_ways(org, edge_url):
    host = preview_host(sandbox_app(org, "ws"))

    async def talk() -> list[str]:
        async with ws_via_edge(edge_url, host, "/ws") as ws:
            replies = []
            for text in ("hello", "world"):
                await ws.send(text)
                replies.append(await ws.recv())
            return replies

    assert asyncio.run(talk()) == ["echo: hello", "echo: world"]


def test_stopped_started_and_destroyed_sandboxes(org, edge_url):
    sandbox = sandbox_app(org, "life")
    host, base = preview_host(sandbox), f"{SANDBOXES}/{sandbox['id']}"
    assert via_edge(edge_url, host).status_code == 200
    assert org.post(f"{base}/stop").status_code == 200
    stopped = via_edge(edge_url, host)  # served at once: the change is announced in-process
    assert (stopped.status_code, stopped.json()["error"]["code"]) == (503, "SANDBOX_STOPPED")
    assert org.post(f"{base}/start").status_code == 200
    closed = via_edge(edge_url, host)
    assert (closed.status_code, closed.json()["error"]["code"]) == (502, "PORT_NOT_LISTENING")
    from tests.edge.helpers import start_app
    start_app(org, sandbox, "again")
    assert via_edge(edge_url, host).text == "again /"  # no connection of the old run reused
    assert org.delete(base).status_code == 200
    gone = via_edge(edge_url, host)
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "RESOURCE_REMOVED")


def test_a_closed_port_and_an_unknown_host_get_their_own_pages(org, edge_url):
    sandbox = sandbox_app(org, "ports")
    closed = via_edge(edge_url, preview_host(sandbox, 5999), headers={"Accept": "text/html"})
    assert closed.status_code == 502 and "Nothing is listening yet" in closed.text
    unknown = via_edge(edge_url, "5173-nosuchsandbox.sandbox.miosa.ai")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "HOST_NOT_FOUND"
    assert "hostplane" not in unknown.text.lower()  # nobody's host: nothing of anyone
    for resp in (closed, unknown):
        assert sandbox["id"] not in resp.text and org.tenant_id not in resp.text
        assert "uvicorn" not in resp.text.lower() and "127.0.0.1" not in resp.text
        assert not {"server", "x-powered-by", "via"} & set(resp.headers)


def test_error_pages_wear_the_organizations_branding(org, edge_url):
    sandbox = sandbox_app(org, "brand")
    host = preview_host(sandbox, 6001)
    plain = via_edge(edge_url, host, headers={"Accept": "text/html"})
    assert "Powered by hostplane" in plain.text  # the organization has not hidden it
    assert org.put("/api/v1/tenant/branding", {
        "custom_app_name": "ClinicIQ", "support_url": "https://help.cliniciq.com",
        "primary_color": "#0055aa", "powered_by_visible": False}).status_code == 200
    page = via_edge(edge_url, host, headers={"Accept": "text/html"})
    assert "ClinicIQ" in page.text and "https://help.cliniciq.com" in page.text
    assert "#0055aa" in page.text
    assert "hostplane" not in page.text.lower()
    assert not {"server", "x-powered-by", "via"} & set(page.headers)


def test_another_organizations_preview_domain_does_not_serve_my_sandbox(org, other_org, container,
                                                                        edge_url):
    from hostplane.db.scope import Scope
    from hostplane.domains.models import PREVIEW
    from hostplane.domains.tenant_domains import mark_verified, set_tenant_domain
    from tests.factories import unique

    domain = unique("prev").replace(" ", "-").lower() + ".example.com"
    with container.database.transaction() as session:
        scope = Scope(session, other_org.tenant_id)
        set_tenant_domain(scope, PREVIEW, domain, container.platform, container.clock.now(),
                          field="preview_domain")
        mark_verified(scope, PREVIEW, container.clock.now())
    sandbox = sandbox_app(org, "mine")
    resp = via_edge(edge_url, f"5173-{sandbox['slug']}.sandbox.{domain}")
    assert resp.status_code == 404
    assert via_edge(edge_url, preview_host(sandbox)).status_code == 200


def test_json_or_html_by_accept(org, edge_url):
    resp = via_edge(edge_url, "nothing.example.org", headers={"Accept": "text/html"})
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.status_code == 404 and "<h1>Nothing here</h1>" in resp.text
    assert "Powered by" not in resp.text  # no organization: nothing of anyone
    body = json.loads(via_edge(edge_url, "nothing.example.org").text)
    assert body["error"]["code"] == "HOST_NOT_FOUND"


def test_edge_traffic_counts_as_sandbox_activity(org, container, edge_url):
    sandbox = sandbox_app(org, "busy")
    before = container.driver.last_activity(sandbox["id"])
    time.sleep(0.05)
    assert via_edge(edge_url, preview_host(sandbox)).status_code == 200
    assert container.driver.last_activity(sandbox["id"]) > before
