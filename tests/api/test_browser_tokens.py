"""Browser tokens (spec §9; issue "Branding, browser tokens…"): minted by an API key only, for at
most what it holds, inside one workspace; verified with the algorithm pinned; revoked by id, by
user and by signing key; and API keys refused when a browser sends them."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hostplane.tokens import signing


def mint(org, **body):
    resp = org.post("/api/v1/browser-tokens", body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def as_token(base_url, token, **headers):
    return httpx.Client(base_url=base_url, timeout=30,
                        headers={"Authorization": f"Bearer {token}", **headers})


@pytest.fixture
def two_workspaces(org):
    """A sandbox in each of two workspaces of one organization."""
    made = []
    for _ in range(2):
        ws = org.workspace()
        sbx = org.post("/api/v1/sandboxes", {"workspace_id": ws["id"]}).json()["data"]
        made.append((ws, sbx))
    return made


def test_a_sandbox_read_token_sees_its_workspace_only(org, base_url, container, two_workspaces):
    (ws, mine), (_, theirs) = two_workspaces
    created = mint(org, workspaceId=ws["id"], externalUserId="dr-smith-456",
                   permissions=["sandbox:read"], ttlSeconds=300)  # the spec's camelCase
    assert created["permissions"] == ["sandbox:read"] and created["status"] == "active"
    assert created["external_user_id"] == "dr-smith-456" and created["ttl_seconds"] == 300
    with as_token(base_url, created["token"]) as browser:
        listed = browser.get("/api/v1/sandboxes").json()["data"]
        assert [s["id"] for s in listed] == [mine["id"]]
        assert browser.get(f"/api/v1/sandboxes/{mine['id']}").status_code == 200
        other = browser.get(f"/api/v1/sandboxes/{theirs['id']}")
        assert other.status_code == 404
        assert browser.get(f"/api/v1/workspaces/{ws['id']}").status_code == 403  # no such perm
        dep = org.post("/api/v1/deployments", {"name": "Site", "workspace_id": ws["id"]})
        domain = browser.post(f"/api/v1/deployments/{dep.json()['data']['id']}/domains",
                              json={"domain": "app.example.org"})
        assert domain.status_code == 403 and domain.json()["error"]["code"] == "PERMISSION_DENIED"
        assert browser.post("/api/v1/browser-tokens", json={
            "workspace_id": ws["id"], "permissions": ["sandbox:read"]}).status_code == 403
        assert browser.get("/api/v1/api-keys").status_code == 403
        assert browser.get("/api/v1/tenant/branding").status_code in (403, 404)

        # Revoked: the very next request is refused.
        assert org.delete(f"/api/v1/browser-tokens/{created['id']}").status_code == 200
        gone = browser.get("/api/v1/sandboxes")
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "TOKEN_REVOKED"


def test_a_token_expires(org, base_url, container, two_workspaces):
    (ws, _), _ = two_workspaces
    created = mint(org, workspace_id=ws["id"], permissions=["sandbox:read"], ttl_seconds=30)
    with as_token(base_url, created["token"]) as browser:
        assert browser.get("/api/v1/sandboxes").status_code == 200
        container.clock.advance(seconds=31)
        expired = browser.get("/api/v1/sandboxes")
        assert expired.status_code == 401 and expired.json()["error"]["code"] == "TOKEN_EXPIRED"


def test_a_project_token_execs_in_its_project_and_creates_only_there(org, base_url):
    ws = org.workspace()
    project = org.project(ws["id"])
    elsewhere = org.project(ws["id"])
    token = mint(org, project_id=project["id"], external_user_id="u-1",
                 permissions=["sandbox:read", "sandbox:write", "sandbox:exec"])["token"]
    with as_token(base_url, token) as browser:
        made = browser.post("/api/v1/sandboxes", json={})
        assert made.status_code == 201, made.text
        sandbox = made.json()["data"]
        assert (sandbox["project_id"], sandbox["external_user_id"]) == (project["id"], "u-1")
        ran = browser.post(f"/api/v1/sandboxes/{sandbox['id']}/exec",
                           json={"command": "echo hi"})
        assert ran.status_code == 200, ran.text
        outside = browser.post("/api/v1/sandboxes", json={"project_id": elsewhere["id"]})
        assert outside.status_code == 404
        assert browser.post("/api/v1/sandboxes", json={
            "external_workspace_id": "someone-else"}).status_code == 404
        assert browser.post("/api/v1/sandboxes", json={
            "external_user_id": "u-2"}).status_code == 403
    assert org.get("/api/v1/workspaces").json()["meta"]["total"] >= 1


def test_ports_narrow_previews(org, base_url):
    ws = org.workspace()
    sandbox = org.post("/api/v1/sandboxes", {"workspace_id": ws["id"]}).json()["data"]
    token = mint(org, workspace_id=ws["id"], permissions=["sandbox:read", "sandbox:write"],
                 ports=[3000])["token"]
    with as_token(base_url, token) as browser:
        ok = browser.post(f"/api/v1/sandboxes/{sandbox['id']}/expose", json={"port": 3000})
        assert ok.status_code in (200, 201), ok.text
        refused = browser.post(f"/api/v1/sandboxes/{sandbox['id']}/expose", json={"port": 8080})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "PORT_NOT_ALLOWED"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"ttl_seconds": 29}, 422, "TTL_OUT_OF_RANGE"),
    ({"ttl_seconds": 86_401}, 422, "TTL_OUT_OF_RANGE"),
    ({"permissions": ["sandbox:fly"]}, 422, "VALIDATION_FAILED"),
    ({"permissions": ["domain:write"]}, 422, "PERMISSION_NOT_FOR_BROWSER"),
    ({"permissions": ["*"]}, 422, "PERMISSION_NOT_FOR_BROWSER"),
    ({"permissions": ["sandbox:exec"]}, 422, "SCOPE_TOO_WIDE"),
    ({"workspace_id": None}, 422, "SCOPE_REQUIRED"),
    ({"workspace_id": "nope"}, 404, "WORKSPACE_NOT_FOUND"),
])
def test_bad_mints_are_refused_with_the_rule(org, body, status, code):
    ws = org.workspace()
    resp = org.post("/api/v1/browser-tokens",
                    {"workspace_id": ws["id"], "permissions": ["sandbox:read"], **body})
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["details"].get("field")


def test_default_ttl_is_fifteen_minutes(org):
    ws = org.workspace()
    created = mint(org, workspace_id=ws["id"], permissions=["preview:read"])
    assert created["ttl_seconds"] == 900


def test_a_key_grants_only_what_it_holds(org):
    ws = org.workspace()
    weak = org.post("/api/v1/api-keys", {"name": "w", "scopes": [
        "browser_token:create", "preview:read"]}).json()["data"]
    resp = org.client.post("/api/v1/browser-tokens", headers={"Authorization": f"Bearer {weak['key']}"},
                           json={"project_id": org.project(ws["id"])["id"],
                                 "permissions": ["sandbox:exec"]})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "PERMISSION_DENIED"


def test_the_official_clients_scoped_tokens(org, base_url):
    ws = org.workspace()
    resp = org.post("/api/v1/tokens/scoped", {"user_id": "u-7", "workspace_id": ws["id"],
                                              "expires_in_seconds": 600,
                                              "scopes": ["sandboxes:read"]})
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    assert data["token"] and data["expires_at"] and data["scopes"] == ["sandbox:read"]
    listed = org.get("/api/v1/tokens/scoped").json()["data"]
    assert data["id"] in {t["id"] for t in listed}
    assert all("token" not in t for t in listed)  # never shown again
    with as_token(base_url, data["token"]) as browser:
        assert browser.get("/api/v1/sandboxes").status_code == 200


def test_revoking_a_user_ends_their_tokens_but_not_later_ones(org, base_url, container):
    ws = org.workspace()
    old = mint(org, workspace_id=ws["id"], external_user_id="pat", permissions=["sandbox:read"])
    other = mint(org, workspace_id=ws["id"], external_user_id="sam", permissions=["sandbox:read"])
    resp = org.post("/api/v1/browser-tokens/revoke-user", {"externalUserId": "pat"})
    assert resp.status_code == 200 and resp.json()["data"]["revoked"] == 1
    container.clock.advance(seconds=1)
    new = mint(org, workspace_id=ws["id"], external_user_id="pat", permissions=["sandbox:read"])
    for token, status in ((old, 401), (other, 200), (new, 200)):
        with as_token(base_url, token["token"]) as browser:
            assert browser.get("/api/v1/sandboxes").status_code == status


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_tokens_are_refused(org, base_url, container):
    ws = org.workspace()
    real = mint(org, workspace_id=ws["id"], permissions=["sandbox:read"])["token"]
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    claims["perms"] = ["sandbox:read", "sandbox:exec"]
    jwks = httpx.get(f"{base_url}/.well-known/jwks.json").json()
    public = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert "d" not in public  # never the private half
    public_bytes = base64.urlsafe_b64decode(public["x"] + "==")
    forged = {
        # alg confusion: HS256 keyed with the public key
        "hs256": jwt.encode(claims, public_bytes, algorithm="HS256",
                            headers={"kid": header["kid"]}),
        "none": f"{_b64({'alg': 'none', 'kid': header['kid']})}.{_b64(claims)}.",
        "no kid": jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        "other key": jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                                headers={"kid": header["kid"]}),
        "wrong aud": jwt.encode({**claims, "aud": "elsewhere"}, Ed25519PrivateKey.generate(),
                                algorithm="EdDSA", headers={"kid": header["kid"]}),
        "tampered": real[: real.rindex(".")] .replace(real.split(".")[1], _b64(claims))
        + real[real.rindex("."):],
    }
    for name, token in forged.items():
        with as_token(base_url, token) as browser:
            resp = browser.get("/api/v1/sandboxes")
            assert resp.status_code == 401, (name, resp.text)
            assert resp.json()["error"]["code"] == "INVALID_TOKEN", name


def test_rotation_keeps_old_tokens_until_their_key_is_revoked(org, base_url, container):
    ws = org.workspace()
    before = mint(org, workspace_id=ws["id"], permissions=["sandbox:read"])["token"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    with container.database.transaction() as session:
        new_kid = signing.rotate(session, container.clock.now()).id
    container.key_ring.forget()
    after = mint(org, workspace_id=ws["id"], permissions=["sandbox:read"])["token"]
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    kids = {k["kid"] for k in httpx.get(f"{base_url}/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= kids
    for token in (before, after):
        with as_token(base_url, token) as browser:
            assert browser.get("/api/v1/sandboxes").status_code == 200
    with container.database.transaction() as session:
        signing.revoke(session, old_kid, container.clock.now())
    container.key_ring.forget()
    with as_token(base_url, before) as browser:
        assert browser.get("/api/v1/sandboxes").status_code == 401
    with as_token(base_url, after) as browser:
        assert browser.get("/api/v1/sandboxes").status_code == 200


@pytest.mark.parametrize("browser_sign", [{"Origin": "https://app.example.org"},
                                          {"Sec-Fetch-Mode": "cors"}])
def test_an_api_key_sent_by_a_browser_is_refused(org, browser_sign):
    resp = org.get("/api/v1/workspaces", headers=browser_sign)
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert error["code"] == "API_KEY_IN_BROWSER" and "browser token" in error["details"]["fix"]


def test_browser_tokens_work_from_any_page_until_the_organization_lists_origins(org, base_url):
    ws = org.workspace()
    token = mint(org, workspace_id=ws["id"], permissions=["sandbox:read"])["token"]
    site = "https://app.cliniciq.example"
    with as_token(base_url, token, Origin="https://anywhere.example") as page:
        first = page.get("/api/v1/sandboxes")
        assert first.status_code == 200, first.text  # the spec's flow, with no origins set
        assert first.headers["access-control-allow-origin"] == "https://anywhere.example"
    assert org.put("/api/v1/tenant/browser-origins",
                   {"origins": ["https://other.cliniciq.example"]}).status_code == 200
    items = {i["key"]: i for i in org.get("/api/v1/tenant/setup").json()["data"]["items"]}
    assert items["browser_origins"]["status"] == "done"
    with as_token(base_url, token, Origin=site) as browser:
        refused = browser.get("/api/v1/sandboxes")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"
        assert refused.headers["access-control-allow-origin"] == site  # the page can read why
        bad = org.put("/api/v1/tenant/browser-origins", {"origins": ["http://evil.example/x"]})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_ORIGIN"
        assert org.put("/api/v1/tenant/browser-origins",
                       {"origins": [site + "/"]}).json()["origins"] == [site]
        ok = browser.get("/api/v1/sandboxes")
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == site
    preflight = httpx.options(f"{base_url}/api/v1/sandboxes", headers={
        "Origin": site, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 204
    assert "authorization" in preflight.headers["access-control-allow-headers"]


def test_tokens_are_not_logged_or_replayed(org, base_url):
    ws = org.workspace()
    body = {"workspace_id": ws["id"], "permissions": ["sandbox:read"]}
    first = org.post("/api/v1/browser-tokens", body, headers={"Idempotency-Key": "t-1"})
    replay = org.post("/api/v1/browser-tokens", body, headers={"Idempotency-Key": "t-1"})
    assert first.json()["data"]["token"] and replay.json()["data"]["token"] is None
    assert replay.json()["data"]["id"] == first.json()["data"]["id"]
    time.sleep(0)  # nothing asynchronous to wait for: the record is written with the response


def test_the_spec_example_body_with_external_ids(org, base_url):
    """Spec §9's call: workspace and project by id plus the external workspace and user."""
    ws = org.workspace(external_workspace_id="clinic_123")
    project = org.project(ws["id"])
    created = mint(org, workspaceId=ws["id"], projectId=project["id"],
                   externalWorkspaceId="clinic_123", externalUserId="dr-smith-456",
                   permissions=["sandbox:read", "sandbox:exec", "preview:read"], ttlSeconds=3600)
    assert (created["workspace_id"], created["project_id"]) == (ws["id"], project["id"])
    assert created["external_workspace_id"] == "clinic_123"
    mismatch = org.post("/api/v1/browser-tokens", {
        "workspace_id": ws["id"], "external_workspace_id": "clinic_999",
        "permissions": ["sandbox:read"]})
    assert mismatch.status_code == 404
    assert mismatch.json()["error"]["details"]["field"] == "external_workspace_id"


def test_a_token_dies_with_its_minting_key_and_shrinks_with_it(org, base_url):
    ws = org.workspace()
    minter = org.post("/api/v1/api-keys", {"name": "backend", "scopes": [
        "browser_token:create", "sandbox:read", "workspace:read"]}).json()["data"]
    headers = {"Authorization": f"Bearer {minter['key']}"}
    resp = org.client.post("/api/v1/browser-tokens", headers=headers, json={
        "workspace_id": ws["id"], "permissions": ["sandbox:read", "workspace:read"]})
    token = resp.json()["data"]["token"]
    with as_token(base_url, token) as browser:
        assert browser.get(f"/api/v1/workspaces/{ws['id']}").status_code == 200
        org.patch(f"/api/v1/api-keys/{minter['id']}",
                  {"scopes": ["browser_token:create", "sandbox:read"]})
        assert browser.get(f"/api/v1/workspaces/{ws['id']}").status_code == 403
        assert browser.get("/api/v1/sandboxes").status_code == 200
        org.delete(f"/api/v1/api-keys/{minter['id']}")
        gone = browser.get("/api/v1/sandboxes")
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "TOKEN_REVOKED"


def test_what_a_token_may_do_comes_from_its_record_not_its_claims(org, base_url, container):
    """Even a correctly signed token (someone holding a signing key) gets only what was
    granted at minting: its record, not its claims, says what it may do."""
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import select

    from hostplane.tokens.models import SigningKey

    ws = org.workspace()
    real = mint(org, workspace_id=ws["id"], permissions=["sandbox:read"])["token"]
    kid = jwt.get_unverified_header(real)["kid"]
    with container.database.transaction(write=False) as session:
        pem = session.scalar(select(SigningKey.private_key).where(SigningKey.id == kid))
    key = serialization.load_pem_private_key(pem.encode(), None)
    claims = jwt.decode(real, options={"verify_signature": False})
    resigned = jwt.encode({**claims, "perms": ["*", "api_key:manage"]}, key, algorithm="EdDSA",
                          headers={"kid": kid})
    with as_token(base_url, resigned) as browser:
        assert browser.get("/api/v1/sandboxes").status_code == 200
        assert browser.get("/api/v1/api-keys").status_code == 403


def test_a_sandbox_list_token_reaches_those_sandboxes_only_and_creates_nothing(org, base_url):
    ws = org.workspace()
    one, two = (org.post("/api/v1/sandboxes", {"workspace_id": ws["id"]}).json()["data"]
                for _ in range(2))
    token = mint(org, workspace_id=ws["id"], sandbox_ids=[one["id"]],
                 permissions=["sandbox:read", "sandbox:write", "sandbox:exec"])["token"]
    with as_token(base_url, token) as browser:
        assert [s["id"] for s in browser.get("/api/v1/sandboxes").json()["data"]] == [one["id"]]
        assert browser.get(f"/api/v1/sandboxes/{two['id']}").status_code == 404
        assert browser.post(f"/api/v1/sandboxes/{one['id']}/exec",
                            json={"command": "true"}).status_code == 200
        assert browser.post("/api/v1/sandboxes", json={}).status_code == 403
    other_ws = org.workspace()
    elsewhere = org.post("/api/v1/sandboxes", {"workspace_id": other_ws["id"]}).json()["data"]
    resp = org.post("/api/v1/browser-tokens", {"workspace_id": ws["id"], "permissions": [
        "sandbox:read"], "sandbox_ids": [elsewhere["id"]]})
    assert resp.status_code == 404 and resp.json()["error"]["details"]["field"] == "sandbox_ids"


def test_a_token_without_a_user_cannot_attribute_to_one(org, base_url):
    ws = org.workspace()
    project = org.project(ws["id"])
    token = mint(org, project_id=project["id"], permissions=["sandbox:write"])["token"]
    with as_token(base_url, token) as browser:
        spoof = browser.post("/api/v1/sandboxes", json={"external_user_id": "victim"})
        assert spoof.status_code == 403
        made = browser.post("/api/v1/sandboxes", json={})
        assert made.status_code == 201 and made.json()["data"]["external_user_id"] is None


def test_a_same_origin_fetch_with_an_api_key_is_refused_too(org):
    resp = org.get("/api/v1/workspaces", headers={"Sec-Fetch-Site": "same-origin"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "API_KEY_IN_BROWSER"
    resp = org.get("/api/v1/workspaces", headers={"Sec-Fetch-Mode": "same-origin"})
    assert resp.status_code == 401


def test_workspace_read_alone_reads_neither_projects_nor_usage(org, base_url):
    """Permissions are as wide as their names: a workspace's projects need project:read and its
    usage usage:read (which no browser token holds)."""
    ws = org.workspace()
    mine, other = org.project(ws["id"]), org.project(ws["id"])
    for project in (mine, other, other):
        org.post("/api/v1/sandboxes", {"project_id": project["id"]})
    token = mint(org, project_id=mine["id"], permissions=["workspace:read"])["token"]
    with as_token(base_url, token) as browser:
        assert browser.get(f"/api/v1/workspaces/{ws['id']}").status_code == 200
        for path in ("usage", "stats", "projects"):
            denied = browser.get(f"/api/v1/workspaces/{ws['id']}/{path}")
            assert denied.status_code == 403, (path, denied.text)
    reader = mint(org, project_id=mine["id"], permissions=["project:read"])["token"]
    with as_token(base_url, reader) as browser:
        listed = browser.get(f"/api/v1/workspaces/{ws['id']}/projects").json()["data"]
    assert [p["id"] for p in listed] == [mine["id"]]  # a project token sees its project only
    assert org.get(f"/api/v1/workspaces/{ws['id']}/usage").json()["data"]["sandboxes"] == 3
