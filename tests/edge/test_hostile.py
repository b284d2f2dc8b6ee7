"""The edge facing hostile apps and clients (the security review of the edge): a sandbox can't
exhaust the edge with a huge response head, can't slip a response to the next visitor, can't set
the edge's cookie or cookies for other previews; a client can't inject forwarding headers through
the Host port, hold a request open forever, or be sent off-site by the token redirect; the token
never reaches an app."""

from __future__ import annotations

import time

from tests.edge.helpers import preview_host, raw, sandbox_app, via_edge


def test_a_huge_response_head_is_refused_without_being_held(org, edge_url):
    host = preview_host(sandbox_app(org, "big"))
    started = time.monotonic()
    resp = via_edge(edge_url, host, "/bighdr")
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "BAD_GATEWAY"
    assert time.monotonic() - started < 5
    assert via_edge(edge_url, host, "/ok").text == "big /ok"


def test_bytes_after_a_response_never_reach_the_next_visitor(org, edge_url):
    host = preview_host(sandbox_app(org, "double"))
    assert via_edge(edge_url, host, "/double").text == "first"
    time.sleep(0.5)  # the unasked-for second response arrives on the idle connection
    for _ in range(3):
        resp = via_edge(edge_url, host, "/next")
        assert resp.text == "double /next" and "poisoned" not in resp.text


def test_apps_cannot_set_the_edges_cookie_or_one_for_every_preview(org, edge_url):
    host = preview_host(sandbox_app(org, "cookies"))
    cookies = via_edge(edge_url, host, "/setcookie").headers.get_list("set-cookie")
    assert cookies == ["own=1; Path=/"]


def test_the_host_port_must_be_a_port(org, edge_url):
    host = preview_host(sandbox_app(org, "hostport"))
    got = raw(edge_url, b"GET /headers HTTP/1.1\r\nHost: %s:1,for=10.0.0.1;host=bank.example"
                        b"\r\nConnection: close\r\n\r\n" % host.encode())
    assert got.startswith(b"HTTP/1.1 400"), got
    assert b"bank.example" not in got
    seen = dict(via_edge(edge_url, f"{host}:8443", "/headers").json()["headers"])
    assert seen["x-forwarded-host"] == f"{host}:8443"


def test_the_preview_token_never_reaches_an_app_and_the_redirect_stays_home(org, edge_url):
    public = sandbox_app(org, "public")
    seen = via_edge(edge_url, preview_host(public), "/headers?a=1&preview_token=secret").json()
    assert seen["request"] == "GET /headers?a=1 HTTP/1.1"
    private = sandbox_app(org, "private", visibility="private")
    token = org.post("/api/v1/browser-tokens", {
        "workspace_id": private["workspace_id"], "permissions": ["preview:read"]}).json()["data"]
    resp = via_edge(edge_url, preview_host(private), f"//evil.example/x?preview_token={token['token']}")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/evil.example/x"
    assert resp.headers["referrer-policy"] == "no-referrer"


def test_a_client_that_stops_sending_its_body_gets_a_timeout(org, edge_url, monkeypatch):
    from hostplane.edge import proxy

    monkeypatch.setattr(proxy, "BODY_IDLE", 0.5)
    host = preview_host(sandbox_app(org, "slow"))
    got = raw(edge_url, b"POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\n"
              % host.encode(), read_for=3.0)
    assert got.startswith(b"HTTP/1.1 408"), got
    assert via_edge(edge_url, host, "/count").text == "1"  # the app never saw it
