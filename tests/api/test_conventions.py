"""Conventions every endpoint follows (contract §1-4): envelopes, ids, limits, idempotency."""

from __future__ import annotations

import json
import threading

from tests.factories import unique


def test_every_response_is_json_with_a_request_id(org, anon):
    for resp in (anon.get("/healthz"), anon.get("/api/v1/workspaces"), org.get("/nope"),
                 org.get("/api/v1/workspaces"), org.post("/api/v1/workspaces", {})):
        assert resp.headers["content-type"].startswith("application/json"), resp.url
        assert resp.headers["x-request-id"]


def test_caller_request_id_is_echoed_and_in_error_bodies(org):
    resp = org.get("/api/v1/workspaces/none", headers={"x-request-id": "trace-123"})
    assert resp.headers["x-request-id"] == "trace-123"
    assert resp.json()["request_id"] == "trace-123"
    weird = org.get("/api/v1/workspaces/none", headers={"x-request-id": "a b\tc"})
    assert weird.headers["x-request-id"].startswith("req_")


def test_unknown_routes_are_json_404(org):
    resp = org.get("/api/v1/no/such/route")
    assert resp.status_code == 404
    body = resp.json()
    assert body["error"]["code"] == "NOT_FOUND" and body["request_id"]


def test_error_envelope_shape(org):
    err = org.get("/api/v1/workspaces/does-not-exist").json()
    assert set(err) == {"error", "request_id"}
    assert err["error"]["code"] == "WORKSPACE_NOT_FOUND"
    assert isinstance(err["error"]["message"], str) and isinstance(err["error"]["details"], dict)
    assert err["error"]["retryable"] is False


def test_bodies_over_one_mebibyte_are_413(org):
    big = {"name": "x", "description": "y" * (1024 * 1024)}
    resp = org.post("/api/v1/workspaces", big)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "TOO_LARGE"

    def chunks():
        for _ in range(40):
            yield b"x" * 32768

    streamed = org.client.post("/api/v1/workspaces", content=chunks(),
                               headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "TOO_LARGE"
    assert org.get("/api/v1/workspaces").json()["meta"]["total"] == 0


def test_malformed_json_is_422(org):
    resp = org.client.post("/api/v1/workspaces", content=b'{"name": ',
                           headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["error"]["details"]["field"] == "body"
    assert "JSON" in resp.json()["error"]["message"]


def test_idempotency_key_replays_the_first_result(org):
    body = {"name": unique("Idem")}
    key = {"Idempotency-Key": unique("key")}
    first = org.post("/api/v1/workspaces", body, headers=key)
    second = org.post("/api/v1/workspaces", {"name": body["name"]}, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert org.get("/api/v1/workspaces").json()["meta"]["total"] == 1


def test_idempotency_key_with_another_body_is_422(org):
    key = {"Idempotency-Key": unique("key")}
    org.post("/api/v1/workspaces", {"name": unique("A")}, headers=key)
    resp = org.post("/api/v1/workspaces", {"name": unique("B")}, headers=key)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_idempotency_keys_are_per_organization_and_route(org, other_org):
    key = {"Idempotency-Key": "shared-key"}
    a = org.post("/api/v1/workspaces", {"name": "Same"}, headers=key)
    b = other_org.post("/api/v1/workspaces", {"name": "Same"}, headers=key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    ws = a.json()
    p = org.post("/api/v1/projects", {"name": "Same", "workspace_id": ws["id"]}, headers=key)
    assert p.status_code == 201


def test_failed_requests_do_not_burn_the_key(org):
    key = {"Idempotency-Key": unique("key")}
    name = unique("Later")
    org.workspace(name)
    conflict = org.post("/api/v1/workspaces", {"name": name}, headers=key)
    assert conflict.status_code == 409
    org.delete(f"/api/v1/workspaces/{conflict.json()['error']['existing']['id']}")
    retry = org.post("/api/v1/workspaces", {"name": name}, headers=key)
    assert retry.status_code == 201


def test_idempotency_keys_expire_after_a_day(org, clock):
    key = {"Idempotency-Key": unique("key")}
    first = org.post("/api/v1/workspaces", {"name": unique("Exp"), "allow_duplicate_name": True},
                     headers=key)
    clock.advance(24 * 3600 + 1)
    body = {"name": first.json()["name"], "allow_duplicate_name": True}
    second = org.post("/api/v1/workspaces", body, headers=key)
    assert second.status_code == 201 and second.json()["id"] != first.json()["id"]


def test_concurrent_replays_create_one_workspace(org):
    key = {"Idempotency-Key": unique("key")}
    body = {"name": unique("Race")}
    results: list[int] = []

    def call() -> None:
        results.append(org.post("/api/v1/workspaces", body, headers=key).status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) <= {201, 409}
    assert 201 in results
    assert org.get("/api/v1/workspaces").json()["meta"]["total"] == 1


def test_a_claim_whose_request_never_finished_lapses(org, container, clock):
    """A crash between reserving a key and storing the result must not block retries forever."""
    from datetime import timedelta

    from hostplane.db.scope import Scope
    from hostplane.idempotency import service

    body = {"name": unique("Lapsed")}
    key = unique("key")
    principal = org.get("/api/v1/api-keys").json()["data"][0]["id"]
    with container.database.transaction() as session:
        service.reserve(Scope(session, org.tenant_id), key=key, method="POST",
                        path="/api/v1/workspaces", principal_id=principal,
                        fingerprint=service.request_fingerprint(json.dumps(body).encode()),
                        now=clock.now(), ttl=timedelta(hours=24))
    busy = org.post("/api/v1/workspaces", body, headers={"Idempotency-Key": key})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
    clock.advance(61)
    retry = org.post("/api/v1/workspaces", body, headers={"Idempotency-Key": key})
    assert retry.status_code == 201
