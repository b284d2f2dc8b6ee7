"""Input that once caused 500s (found by the fuzzer): now each is a 422 naming the field, on both
databases, and nothing is written."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "a\u0000b"}, "name"),
    ({"name": "x", "metadata": {"k": "\u0000"}}, "metadata"),
    ({"name": "x", "metadata": {"k\u0000": 1}}, "metadata"),
    ({"name": "x", "description": "\u0000"}, "description"),
])
def test_nul_characters_are_refused(org, body, field):
    resp = org.post("/api/v1/workspaces", body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"]["field"] == field
    assert org.get("/api/v1/workspaces").json()["meta"]["total"] == 0


def test_unpaired_surrogates_and_infinite_numbers_are_refused(org):
    raw = [b'{"name": "x", "metadata": {"k": "\\ud800"}}', b'{"name": "\\udfff"}',
           b'{"name": "x", "metadata": {"n": 1e400}}', b'{"name": "x", "metadata": {"n": -1e400}}']
    for body in raw:
        resp = org.client.post("/api/v1/workspaces", content=body,
                               headers={"content-type": "application/json"})
        assert resp.status_code == 422, (body, resp.text)
    ws = org.workspace()
    resp = org.client.put(f"/api/v1/workspaces/{ws['id']}/settings", content=b'{"k": 1e400}',
                          headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert org.get(f"/api/v1/workspaces/{ws['id']}").json()["settings"] == {}


@pytest.mark.parametrize("url", ["/api/v1/workspaces/%00", "/api/v1/workspaces?external_workspace_id=%00",
                                 "/api/v1/api-keys?status=a%00b"])
def test_nul_in_the_url_is_refused(org, url):
    resp = org.get(url)
    assert resp.status_code == 422
    assert resp.json()["error"]["details"]["field"] in ("path", "query")


@pytest.mark.parametrize("query", ["offset=9223372036854775808", "offset=9223372036854775807",
                                   "page=100000000000000000000", "limit=0", "per_page=-1"])
def test_paging_numbers_are_bounded(org, query):
    for path in ("/api/v1/workspaces", "/api/v1/projects", "/api/v1/api-keys"):
        resp = org.get(f"{path}?{query}")
        assert resp.status_code == 422, (path, query)


@pytest.mark.parametrize("moment", ["2030-01-01T00:00:00", "0001-01-01T00:00:00+01:00",
                                    "9999-12-31T23:59:59-01:00", "yesterday"])
def test_api_key_expiry_must_be_a_sane_aware_timestamp(org, moment):
    resp = org.post("/api/v1/api-keys", {"name": "k", "expires_at": moment})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"]["field"] == "expires_at"


def test_an_unexpected_error_is_a_json_500_with_the_request_id(container, base_url, org, caplog):
    """Breaks the database under one request: the client still gets the envelope and the id,
    and the log has the traceback."""
    from sqlalchemy import event

    def explode(*_args):
        raise RuntimeError("boom")

    event.listen(container.database.engine, "before_cursor_execute", explode)
    try:
        with caplog.at_level("ERROR", logger="hostplane.api"):
            resp = org.get("/api/v1/workspaces/whatever", headers={"x-request-id": "trace-500"})
    finally:
        event.remove(container.database.engine, "before_cursor_execute", explode)
    assert resp.status_code == 500
    assert resp.headers["x-request-id"] == "trace-500"
    body = resp.json()
    assert body["error"]["code"] == "INTERNAL_ERROR" and body["request_id"] == "trace-500"
    assert "boom" not in resp.text
    assert any("trace-500" in r.getMessage() and r.exc_info for r in caplog.records)
    # The connection stays usable.
    assert org.get("/api/v1/workspaces").status_code == 200


@pytest.mark.parametrize("payload", ['["2020-01-01T00:00:00","x"]', '["0001-01-01T00:00:00+14:00","x"]',
                                     '["2020-01-01T00:00:00+00:00","a\\u0000b"]', '["x"]', '5',
                                     '["2020-01-01T00:00:00+00:00", 7]'])
def test_crafted_cursors_are_422(org, payload):
    import base64

    cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    resp = org.get("/api/v1/workspaces", params={"cursor": cursor})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"]["field"] == "cursor"
