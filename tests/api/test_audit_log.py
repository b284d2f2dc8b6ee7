"""The audit log: every change, who made it (key id, or token and external user), what, when,
under which request id; filters; and never a secret."""

from __future__ import annotations

import httpx


def events(org, **params):
    resp = org.get("/api/v1/audit-log", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_changes_are_recorded_with_who_what_and_the_request(org):
    ws = org.post("/api/v1/workspaces", {"name": "Dr Smith"},
                  headers={"x-request-id": "req-audit-1"}).json()
    org.patch(f"/api/v1/workspaces/{ws['id']}", {"description": "changed"})
    org.get(f"/api/v1/workspaces/{ws['id']}")  # a read: not recorded
    org.post("/api/v1/workspaces", {"name": ""})  # refused: nothing changed, not recorded
    found = events(org, resource_id=ws["id"])
    assert [(e["action"], e["method"], e["status_code"]) for e in found] == [
        ("workspace.create", "POST", 201), ("workspace.update", "PATCH", 200)]
    first = found[0]
    assert first["request_id"] == "req-audit-1" and first["actor_type"] == "api_key"
    assert first["route"] == "/api/v1/workspaces" and first["resource_type"] == "workspace"
    keys = org.get("/api/v1/api-keys").json()["data"]
    assert first["actor_id"] in {k["id"] for k in keys}


def test_actions_and_ids_come_from_the_route(org):
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    org.post(f"/api/v1/sandboxes/{sandbox['id']}/exec", {"command": "echo secret-value"})
    org.delete(f"/api/v1/sandboxes/{sandbox['id']}")
    found = events(org, resource_type="sandbox")
    assert [(e["action"], e["resource_id"]) for e in found][-3:] == [
        ("sandbox.create", sandbox["id"]), ("sandbox.exec", sandbox["id"]),
        ("sandbox.delete", sandbox["id"])]
    assert "secret-value" not in org.get("/api/v1/audit-log").text  # bodies are never kept


def test_a_minted_key_secret_and_a_token_never_appear(org, base_url):
    key = org.post("/api/v1/api-keys", {"name": "backend"}).json()["data"]
    ws = org.workspace()
    token = org.post("/api/v1/browser-tokens", {"workspace_id": ws["id"], "external_user_id":
                                                "dr-smith", "permissions": ["sandbox:read",
                                                                            "sandbox:write"],
                                                "project_id": None}).json()["data"]
    log = org.get("/api/v1/audit-log", params={"limit": 200}).text
    assert key["key"] not in log and token["token"] not in log
    assert {"api_key.create", "browser_token.create"} <= {e["action"] for e in events(org)}
    # A change made with the token names the token and its end user.
    with httpx.Client(base_url=base_url, headers={
            "Authorization": f"Bearer {token['token']}"}) as browser:
        made = browser.post("/api/v1/sandboxes", json={})
        assert made.status_code == 201, made.text
    by_user = events(org, external_user_id="dr-smith")
    assert [(e["action"], e["actor_type"], e["actor_id"]) for e in by_user] == [
        ("sandbox.create", "browser_token", token["id"])]


def test_filters_by_actor_and_time(org, container):
    before = container.clock.now()
    container.clock.advance(seconds=5)
    org.workspace()
    mine = events(org, since=before.isoformat())
    assert mine and all(e["created_at"] >= before.isoformat()[:19] for e in mine)
    assert events(org, until=before.isoformat()) == []
    assert events(org, actor_id="no-such-key") == []
    bad = org.get("/api/v1/audit-log", params={"since": "yesterday"})
    assert bad.status_code == 422
