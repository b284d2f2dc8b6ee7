"""Computers (contract §11.1, bare objects) and databases (contract §9, `{"data": …}`)."""

from __future__ import annotations

import re
import uuid

COMPUTERS = "/api/v1/computers"
DATABASES = "/api/v1/databases"
STATUSES = {"creating", "provisioning", "starting", "running", "active", "paused", "stopping",
            "stopped", "error", "destroying", "destroyed"}
SIZES = {"xs", "small", "medium", "large", "xl"}
SLUG = re.compile(r"^cmp[a-z0-9]{8}$")


def error_of(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    if code is not None:
        assert err["code"] == code, err
    return err


def computer(org, name="desk", **body):
    resp = org.post(COMPUTERS, {"name": name, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


# Computers


def test_create_answers_a_bare_computer(org):
    resp = org.post(COMPUTERS, {"name": "desk"})
    assert resp.status_code == 201, resp.text
    c = resp.json()
    assert "data" not in c
    assert c["id"] and c["name"] == "desk"
    assert c["status"] in STATUSES
    assert c["size"] in SIZES and c["visibility"] in {"public", "tenant", "key"}
    assert SLUG.match(c["slug"]), c["slug"]
    assert c["desktop_url"] == f"https://{c['slug']}.computer.miosa.ai/desktop/index.html"
    assert c["sandbox_url"].startswith("https://")
    assert c["workspace_id"] and c["project_id"]
    got = org.get(f"{COMPUTERS}/{c['id']}")
    assert got.status_code == 200 and "data" not in got.json()
    assert got.json()["id"] == c["id"] and got.json()["desktop_url"] == c["desktop_url"]


def test_status_reason_says_the_local_driver_cannot_run_desktops(org):
    c = computer(org)
    assert c["status"] not in {"running", "active"}
    reason = c["status_reason"]
    assert isinstance(reason, str) and "local" in reason and "desktop" in reason


def test_size_xlarge_is_xl_and_unknown_sizes_are_422(org):
    assert computer(org, size="xlarge")["size"] == "xl"
    assert computer(org, size="medium")["size"] == "medium"
    err = error_of(org.post(COMPUTERS, {"name": "big", "size": "huge"}), 422)
    assert err["details"]["field"] == "size"
    assert org.get(COMPUTERS).json()["total"] == 2


def test_list_is_computers_and_total(org):
    a, b = computer(org, "one"), computer(org, "two")
    resp = org.get(COMPUTERS)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["total"] == 2
    assert {c["id"] for c in body["computers"]} == {a["id"], b["id"]}
    assert all(c["status"] in STATUSES for c in body["computers"])


def test_list_filters_by_workspace(org):
    ws = org.workspace()
    mine = computer(org, workspace_id=ws["id"])
    computer(org)
    body = org.get(COMPUTERS, params={"workspace_id": ws["id"]}).json()
    assert [c["id"] for c in body["computers"]] == [mine["id"]] and body["total"] == 1
    assert mine["workspace_id"] == ws["id"]


def test_patch_renames(org):
    c = computer(org)
    resp = org.patch(f"{COMPUTERS}/{c['id']}", {"name": "renamed", "metadata": {"k": "v"}})
    assert resp.status_code == 200, resp.text
    assert "data" not in resp.json()
    assert resp.json()["name"] == "renamed" and resp.json()["metadata"] == {"k": "v"}
    assert resp.json()["slug"] == c["slug"]
    assert org.get(f"{COMPUTERS}/{c['id']}").json()["name"] == "renamed"


def test_delete_answers_an_action_object(org):
    c = computer(org)
    resp = org.delete(f"{COMPUTERS}/{c['id']}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body, dict) and body["success"] is True
    assert body["status"] in STATUSES
    assert c["id"] not in {x["id"] for x in org.get(COMPUTERS).json()["computers"]}
    assert org.get(COMPUTERS).json()["total"] == 0
    again = org.delete(f"{COMPUTERS}/{c['id']}")
    assert again.status_code == 200 and again.json()["success"] is True


def test_another_organizations_computer_is_404(org, other_org):
    theirs = computer(other_org)
    error_of(org.get(f"{COMPUTERS}/{theirs['id']}"), 404)
    error_of(org.patch(f"{COMPUTERS}/{theirs['id']}", {"name": "x"}), 404)
    error_of(org.delete(f"{COMPUTERS}/{theirs['id']}"), 404)
    error_of(org.get(f"{COMPUTERS}/{uuid.uuid4()}"), 404)


# Databases


def database(org, **body):
    resp = org.post(DATABASES, body)
    assert resp.status_code == 201, resp.text
    assert set(resp.json()) == {"data"}
    return resp.json()["data"]


def test_create_database_fields(org):
    db = database(org, name="form submissions")
    for field in ("id", "tenant_id", "name", "state", "engine", "workspace_id", "project_id"):
        assert db[field] is not None, field
    assert db["tenant_id"] == org.tenant_id and db["name"] == "form submissions"
    assert db["engine"] == "postgresql"
    got = org.get(f"{DATABASES}/{db['id']}")
    assert got.status_code == 200 and got.json()["data"]["id"] == db["id"]


def test_engine_postgres_is_postgresql(org):
    assert database(org, name="a", engine="postgres")["engine"] == "postgresql"
    err = error_of(org.post(DATABASES, {"name": "b", "engine": "redis"}), 422,
                   "ENGINE_NOT_AVAILABLE")
    assert err["details"]["field"] == "engine"
    assert err["details"]["available"] == ["postgresql", "sqlite"]


def test_unknown_engine_is_422_naming_engine(org):
    err = error_of(org.post(DATABASES, {"name": "x", "engine": "oracle"}), 422)
    assert err["details"]["field"] == "engine"
    assert org.get(DATABASES).json()["data"] == []


def test_version_becomes_engine_version(org):
    assert database(org, name="v", version="16")["engine_version"] == "16"
    assert database(org, name="w", engine_version="15")["engine_version"] == "15"


def test_database_goes_where_its_selectors_say(org):
    ws = org.workspace()
    project = org.project(ws["id"])
    db = database(org, name="d", project_id=project["id"], external_user_id="u-1")
    assert (db["workspace_id"], db["project_id"]) == (ws["id"], project["id"])
    assert db["external_user_id"] == "u-1"
    listed = org.get(DATABASES, params={"project_id": project["id"]}).json()["data"]
    assert [d["id"] for d in listed] == [db["id"]]


def test_delete_then_get_is_404(org):
    db = database(org, name="gone")
    resp = org.delete(f"{DATABASES}/{db['id']}")
    assert resp.status_code == 200, resp.text
    error_of(org.get(f"{DATABASES}/{db['id']}"), 404, "DATABASE_NOT_FOUND")
    assert org.get(DATABASES).json()["data"] == []


def test_computer_slugs_never_read_as_a_sandbox_preview_host(org):
    """`{computer}.sandbox.{domain}` must not equal `{port}-{sandbox}.sandbox.{domain}`."""
    resp = org.post("/api/v1/computers", {"name": "desk", "slug": "5173-sbxabcdefgh"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"]["field"] == "slug"
    assert org.post("/api/v1/computers", {"name": "desk", "slug": f"desk-{uuid.uuid4().hex[:8]}"}
                    ).status_code == 201
