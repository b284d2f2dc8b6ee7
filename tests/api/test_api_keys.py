"""API keys (contract §15.3): shown once, hashed at rest, revocation and rotation at once."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from hostplane.keys.models import ApiKey


def _row(container, key_id: str) -> ApiKey:
    with container.database.transaction(write=False) as session:
        return session.scalars(select(ApiKey).where(ApiKey.id == key_id)).one()


def test_create_shows_secret_once_and_stores_only_a_hash(org, container):
    resp = org.post("/api/v1/api-keys", {"name": "ci"})
    assert resp.status_code == 201
    created = resp.json()["data"]
    secret = created["key"]
    assert secret.startswith("msk_live_") and len(secret) >= len("msk_live_") + 43
    assert created["token"] == created["api_key"] == secret
    assert created["key_prefix"] == secret[:16] and created["scopes"] == ["*"]
    row = _row(container, created["id"])
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(row.__dict__)
    got = org.get(f"/api/v1/api-keys/{created['id']}").json()["data"]
    assert "key" not in got and "token" not in got and secret not in str(got)
    listed = org.get("/api/v1/api-keys").json()["data"]
    assert created["id"] in {k["id"] for k in listed} and secret not in str(listed)


def test_new_key_works_and_revocation_is_immediate(org, anon):
    created = org.post("/api/v1/api-keys", {"name": "temp"}).json()["data"]
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert anon.get("/api/v1/workspaces", headers=headers).status_code == 200
    resp = org.delete(f"/api/v1/api-keys/{created['id']}")
    assert resp.status_code == 200 and resp.json()["data"]["status"] == "revoked"
    after = anon.get("/api/v1/workspaces", headers=headers)
    assert after.status_code == 401 and after.json()["error"]["code"] == "INVALID_API_KEY"
    again = org.patch(f"/api/v1/api-keys/{created['id']}", {"status": "active"})
    assert again.status_code == 409


def test_rotate_replaces_the_secret_at_once(org, anon):
    created = org.post("/api/v1/api-keys", {"name": "rot"}).json()["data"]
    rotated = org.post(f"/api/v1/api-keys/{created['id']}/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["data"]
    assert new["id"] == created["id"] and new["key"] != created["key"]
    old_headers = {"Authorization": f"Bearer {created['key']}"}
    new_headers = {"Authorization": f"Bearer {new['key']}"}
    assert anon.get("/api/v1/workspaces", headers=old_headers).status_code == 401
    assert anon.get("/api/v1/workspaces", headers=new_headers).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(org, container, clock):
    created = org.post("/api/v1/api-keys", {"name": "usage"}).json()["data"]
    headers = {"Authorization": f"Bearer {created['key']}"}
    org.client.get("/api/v1/workspaces", headers=headers)
    first = _row(container, created["id"]).last_used_at
    assert first is not None
    for _ in range(3):
        org.client.get("/api/v1/workspaces", headers=headers)
    assert _row(container, created["id"]).last_used_at == first
    clock.advance(61)
    org.client.get("/api/v1/workspaces", headers=headers)
    assert _row(container, created["id"]).last_used_at > first


def test_scopes_are_checked_and_limited_to_the_callers(org, anon):
    bad = org.post("/api/v1/api-keys", {"name": "x", "scopes": ["workspace:fly"]})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "scopes"
    reader = org.post("/api/v1/api-keys", {"name": "r", "scopes": ["workspace:read"]}).json()["data"]
    headers = {"Authorization": f"Bearer {reader['key']}"}
    assert anon.get("/api/v1/workspaces", headers=headers).status_code == 200
    denied = anon.post("/api/v1/workspaces", json={"name": "nope"}, headers=headers)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "PERMISSION_DENIED"
    escalate = anon.post("/api/v1/api-keys", json={"name": "e"}, headers=headers)
    assert escalate.status_code == 403


def test_rename_and_expired_keys(org, anon, clock):
    from datetime import timedelta

    renamed = org.post("/api/v1/api-keys", {"name": "a"}).json()["data"]
    resp = org.patch(f"/api/v1/api-keys/{renamed['id']}", {"name": "b"})
    assert resp.json()["data"]["name"] == "b"
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    short = org.post("/api/v1/api-keys", {"name": "short", "expires_at": soon}).json()["data"]
    headers = {"Authorization": f"Bearer {short['key']}"}
    assert anon.get("/api/v1/workspaces", headers=headers).status_code == 200
    clock.advance(3700)
    expired = anon.get("/api/v1/workspaces", headers=headers)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "API_KEY_EXPIRED"


def test_malformed_credentials_are_401(anon):
    for header in ("", "Bearer", "Basic abc", "Bearer msk_live_nope", "Token x"):
        resp = anon.get("/api/v1/workspaces", headers={"Authorization": header} if header else {})
        assert resp.status_code == 401, header
        assert resp.json()["error"]["code"] in ("UNAUTHENTICATED", "INVALID_API_KEY")


def test_a_key_cannot_manage_keys_more_powerful_than_itself(org, anon):
    manager = org.post("/api/v1/api-keys", {"name": "mgr", "scopes": ["api_key:manage"]}).json()
    anon.headers["Authorization"] = f"Bearer {manager['data']['key']}"
    root = org.post("/api/v1/api-keys", {"name": "root"}).json()["data"]
    for method, path, body in [("POST", f"/api/v1/api-keys/{root['id']}/rotate", None),
                               ("DELETE", f"/api/v1/api-keys/{root['id']}", None),
                               ("PATCH", f"/api/v1/api-keys/{root['id']}", {"name": "mine"}),
                               ("POST", "/api/v1/api-keys", {"name": "x"})]:
        resp = anon.request(method, path, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
    root_headers = {"Authorization": f"Bearer {root['key']}"}
    assert anon.get("/api/v1/workspaces", headers=root_headers).status_code == 200
    peer = anon.post("/api/v1/api-keys", json={"name": "peer", "scopes": ["api_key:manage"]})
    assert peer.status_code == 201  # keys within its own permissions it can manage
    assert anon.post(f"/api/v1/api-keys/{peer.json()['data']['id']}/rotate").status_code == 200


def test_idempotent_key_creation_never_replays_the_secret(org, anon, container):
    from sqlalchemy import text

    headers = {"Idempotency-Key": "mint-once"}
    first = org.post("/api/v1/api-keys", {"name": "once"}, headers=headers)
    again = org.post("/api/v1/api-keys", {"name": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    secret = first.json()["data"]["key"]
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.json()["data"]["key"] is None and again.json()["data"]["secret_redacted"] is True
    with container.database.engine.connect() as conn:
        stored = conn.execute(text("SELECT response_body FROM idempotency_records")).scalars().all()
    assert not any(secret in (body or "") for body in stored)
    # Another credential of the same organization gets no replay at all.
    reader = org.post("/api/v1/api-keys", {"name": "r", "scopes": ["workspace:read"]}).json()
    anon.headers.update({"Authorization": f"Bearer {reader['data']['key']}", **headers})
    stolen = anon.post("/api/v1/api-keys", json={"name": "once"})
    assert stolen.status_code in (403, 422) and "msk_live_" not in stolen.text
