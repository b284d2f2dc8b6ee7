"""Private previews (issue "The edge" §5): a sandbox or port marked private opens only with a
browser token holding preview:read for it — as a bearer, or once as ?preview_token= traded for a
host-only cookie — cookie-carrying unsafe requests and WebSockets must come from the preview
itself, and revoking the token ends access at once, WebSockets included. Also exact domains on a
sandbox's port, and host masking switched off."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.api.test_spec_example import create_dns
from tests.edge.helpers import SANDBOXES, preview_host, sandbox_app, via_edge, ws_via_edge


def mint(org, sandbox, **body):
    body = {"workspace_id": sandbox["workspace_id"], "permissions": ["preview:read"], **body}
    resp = org.post("/api/v1/browser-tokens", body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def code(resp):
    return resp.status_code, resp.json()["error"]["code"]


def test_a_private_preview_opens_with_a_token_and_only_with_one(org, edge_url):
    sandbox = sandbox_app(org, "secret", visibility="private")
    assert sandbox["visibility"] == "private"
    host = preview_host(sandbox)
    assert code(via_edge(edge_url, host)) == (401, "PREVIEW_PRIVATE")
    token = mint(org, sandbox, sandbox_ids=[sandbox["id"]])["token"]

    # As a bearer: served, and the token never reaches the app.
    seen = via_edge(edge_url, host, "/headers", headers={"Authorization": f"Bearer {token}"})
    assert seen.status_code == 200 and token not in seen.text

    # Once in the URL: traded for a host-only cookie and a redirect without it.
    traded = via_edge(edge_url, host, f"/page?a=1&preview_token={token}")
    assert traded.status_code == 303 and traded.headers["location"] == "/page?a=1"
    cookie = traded.headers["set-cookie"]
    assert cookie.startswith("__Host-preview_token=")  # the public scheme is https here
    for attribute in ("Path=/", "HttpOnly", "Secure", "SameSite=None", "Partitioned"):
        assert attribute in cookie
    assert "Domain=" not in cookie
    jar = {"Cookie": cookie.split(";", 1)[0]}
    page = via_edge(edge_url, host, "/page?a=1", headers=jar)
    assert (page.status_code, page.text) == (200, "secret /page?a=1")
    assert token not in via_edge(edge_url, host, "/headers", headers=jar).text

    # Unsafe methods with the ambient cookie must come from the preview's own origin.
    forged = via_edge(edge_url, host, "/upload", method="POST", content=b"x",
                      headers={**jar, "Origin": "https://evil.example"})
    assert code(forged) == (403, "PREVIEW_FORBIDDEN")
    own = via_edge(edge_url, host, "/upload", method="POST", content=b"x",
                   headers={**jar, "Origin": f"https://{host}"})
    assert own.status_code == 200

    # A bad token in the URL is refused, not traded.
    assert code(via_edge(edge_url, host, "/?preview_token=eyJ.x.y")) == (401, "PREVIEW_PRIVATE")


def test_tokens_count_only_for_their_sandbox_port_and_organization(org, other_org, edge_url):
    sandbox = sandbox_app(org, "narrow", visibility="private")
    host = preview_host(sandbox)
    other_port = mint(org, sandbox, sandbox_ids=[sandbox["id"]], ports=[3000])["token"]
    assert code(via_edge(edge_url, host, headers={"Authorization": f"Bearer {other_port}"})) == (
        401, "PREVIEW_PRIVATE")
    elsewhere = org.post(SANDBOXES, {}).json()["data"]
    wrong_sandbox = mint(org, sandbox, sandbox_ids=[elsewhere["id"]])["token"]
    assert via_edge(edge_url, host, headers={
        "Authorization": f"Bearer {wrong_sandbox}"}).status_code == 401
    theirs_sandbox = other_org.post(SANDBOXES, {}).json()["data"]
    theirs = mint(other_org, theirs_sandbox)["token"]
    assert via_edge(edge_url, host, headers={"Authorization": f"Bearer {theirs}"}).status_code == 401
    no_preview = mint(org, sandbox, permissions=["sandbox:read"])["token"]
    assert via_edge(edge_url, host, headers={
        "Authorization": f"Bearer {no_preview}"}).status_code == 401
    right = mint(org, sandbox, sandbox_ids=[sandbox["id"]], ports=[5173])["token"]
    assert via_edge(edge_url, host, headers={"Authorization": f"Bearer {right}"}).status_code == 200


def test_revoking_ends_access_and_closes_websockets(org, edge_url):
    sandbox = sandbox_app(org, "revoke", visibility="private")
    host = preview_host(sandbox)
    minted = mint(org, sandbox)
    cookie = {"Cookie": f"__Host-preview_token={minted['token']}"}

    async def scenario() -> float:
        # Cookie WebSockets from another site are refused; from the preview itself they open.
        with pytest.raises(InvalidStatus):
            async with ws_via_edge(edge_url, host, "/ws", additional_headers=cookie,
                                   origin="https://evil.example"):
                pass
        async with ws_via_edge(edge_url, host, "/ws", additional_headers=cookie,
                               origin=f"https://{host}") as ws:
            await ws.send("hi")
            assert await ws.recv() == "echo: hi"
            assert org.delete(f"/api/v1/browser-tokens/{minted['id']}").status_code == 200
            revoked_at = time.monotonic()
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
            assert ws.close_code == 4403
            return time.monotonic() - revoked_at

    assert asyncio.run(scenario()) < 5
    assert code(via_edge(edge_url, host, headers=cookie)) == (401, "PREVIEW_PRIVATE")


def test_visibility_and_host_masking_change_on_a_running_sandbox(org, edge_url):
    sandbox = sandbox_app(org, "flip")
    host, base = preview_host(sandbox), f"{SANDBOXES}/{sandbox['id']}"
    assert via_edge(edge_url, host).status_code == 200
    changed = org.patch(base, {"visibility": "private", "mask_request_host": False})
    assert changed.status_code == 200, changed.text
    assert via_edge(edge_url, host).status_code == 401  # served at once
    org.patch(base, {"visibility": "public"})
    seen = dict(via_edge(edge_url, host, "/headers").json()["headers"])
    assert seen["host"] == host
    bad = org.patch(base, {"visibility": "everyone"})
    assert bad.status_code == 422 and "visibility" in bad.text


def test_an_exact_domain_serves_a_sandbox_port(org, zone, edge_url):
    import uuid

    sandbox = sandbox_app(org, "exact", port=3000)
    name = f"preview.clinic{uuid.uuid4().hex[:8]}.com"
    resp = org.post(f"{SANDBOXES}/{sandbox['id']}/domains", {"domain": name, "port": 3000})
    assert resp.status_code == 201, resp.text
    record = resp.json()["data"]
    assert (record["sandbox_id"], record["port"]) == (sandbox["id"], 3000)
    assert via_edge(edge_url, name).status_code == 404  # pending
    create_dns(zone, record["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    assert via_edge(edge_url, name, "/x").text == "exact /x"
    refused = org.post("/api/v1/deployments", {"name": "d"}).json()["data"]
    wrong = org.post(f"/api/v1/deployments/{refused['id']}/domains",
                     {"domain": f"x.{name}", "port": 80})
    assert wrong.status_code == 422 and wrong.json()["error"]["details"]["field"] == "port"
    # Destroying the sandbox gives the name back (a tombstone, as for deployments).
    assert org.delete(f"{SANDBOXES}/{sandbox['id']}").status_code == 200
    assert record["id"] not in [d["id"] for d in org.get("/api/v1/custom-domains").json()["data"]]
    assert via_edge(edge_url, name).status_code == 404
