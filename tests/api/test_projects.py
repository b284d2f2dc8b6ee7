"""Projects (contract §7): per-workspace slugs, external ids, the protected default, move."""

from __future__ import annotations

from tests.factories import unique


def test_create_by_workspace_id_or_slug(org):
    ws = org.workspace("Dr. Smith Clinic")
    by_id = org.post("/api/v1/projects", {"name": "Summer Lead Magnet", "workspace_id": ws["id"]})
    assert by_id.status_code == 201
    project = by_id.json()["data"]
    assert project["slug"] == "summer-lead-magnet" and project["workspace_id"] == ws["id"]
    by_slug = org.post("/api/v1/projects", {"name": "Summer Lead Magnet",
                                            "workspace_slug": "dr-smith-clinic"})
    assert by_slug.status_code == 201
    assert by_slug.json()["data"]["slug"] == "summer-lead-magnet-2"


def test_workspace_is_required_and_must_agree(org):
    resp = org.post("/api/v1/projects", {"name": "Orphan"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "WORKSPACE_REQUIRED"
    a, b = org.workspace(), org.workspace()
    resp = org.post("/api/v1/projects", {"name": "X", "workspace_id": a["id"],
                                         "workspace_slug": b["slug"]})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "SELECTOR_CONFLICT"
    resp = org.post("/api/v1/projects", {"name": "X", "workspace_slug": "no-such-workspace"})
    assert resp.status_code == 404


def test_slug_unique_per_workspace_only(org):
    a, b = org.workspace(), org.workspace()
    pa = org.project(a["id"], "Booking Portal", slug="booking")
    pb = org.project(b["id"], "Booking Portal", slug="booking")
    assert pa["slug"] == pb["slug"] == "booking"
    resp = org.post("/api/v1/projects", {"name": "Y", "workspace_id": a["id"], "slug": "booking"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "SLUG_TAKEN"


def test_external_project_id_is_unique_in_the_organization(org):
    a, b = org.workspace(), org.workspace()
    ext = unique("project")
    first = org.post("/api/v1/projects", {"name": "P", "workspace_id": a["id"],
                                          "external_project_id": ext})
    again = org.post("/api/v1/projects", {"name": "P2", "workspace_id": a["id"],
                                          "external_project_id": ext})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.json()["data"]["reused"] is True
    elsewhere = org.post("/api/v1/projects", {"name": "P3", "workspace_id": b["id"],
                                              "external_project_id": ext})
    assert elsewhere.status_code == 422
    assert elsewhere.json()["error"]["details"]["field"] == "external_project_id"


def test_default_project_cannot_be_deleted_or_moved(org):
    a, b = org.workspace(), org.workspace()
    default = org.get("/api/v1/projects", params={"workspace_id": a["id"]}).json()["data"][0]
    assert default["is_default"] is True
    resp = org.delete(f"/api/v1/projects/{default['id']}")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "DEFAULT_PROJECT_PROTECTED"
    resp = org.post(f"/api/v1/projects/{default['id']}/move", {"target_workspace_id": b["id"]})
    assert resp.status_code == 409


def test_get_update_move_delete(org):
    a, b = org.workspace(), org.workspace()
    p = org.project(a["id"], "Lead Magnet")
    assert org.get(f"/api/v1/projects/{p['id']}").json()["data"]["id"] == p["id"]
    upd = org.patch(f"/api/v1/projects/{p['id']}", {"name": "Lead Magnet 2", "slug": "lm2",
                                                    "metadata": {"k": "v"}})
    assert upd.status_code == 200
    assert upd.json()["data"]["slug"] == "lm2" and upd.json()["data"]["metadata"] == {"k": "v"}
    moved = org.post(f"/api/v1/projects/{p['id']}/move", {"target_workspace_id": b["id"]})
    assert moved.status_code == 200 and moved.json()["data"]["workspace_id"] == b["id"]
    assert org.get(f"/api/v1/projects/{p['id']}/summary").json()["data"]["workspace_id"] == b["id"]
    assert org.delete(f"/api/v1/projects/{p['id']}").json()["deleted"] is True
    assert org.get(f"/api/v1/projects/{p['id']}").status_code == 404


def test_move_into_a_workspace_with_the_same_slug_is_409(org):
    a, b = org.workspace(), org.workspace()
    p = org.project(a["id"], "Same", slug="same")
    org.project(b["id"], "Same", slug="same")
    resp = org.post(f"/api/v1/projects/{p['id']}/move", {"target_workspace_id": b["id"]})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "SLUG_TAKEN"
    assert org.get(f"/api/v1/projects/{p['id']}").json()["data"]["workspace_id"] == a["id"]


def test_list_filters_by_workspace(org):
    a, b = org.workspace(), org.workspace()
    org.project(a["id"])
    listed = org.get("/api/v1/projects", params={"workspace_id": a["id"]}).json()["data"]
    assert len(listed) == 2 and {p["workspace_id"] for p in listed} == {a["id"]}
    everything = org.get("/api/v1/projects").json()["data"]
    assert {p["workspace_id"] for p in everything} == {a["id"], b["id"]} and len(everything) == 3


def test_production_deployment_is_designated_and_follows_deletes(org):
    ws = org.workspace()
    project = org.project(ws["id"])
    other = org.project(ws["id"])
    first, second = (org.post("/api/v1/deployments", {"name": n, "project_id": project["id"]})
                     .json()["data"] for n in ("Site", "Site Next"))
    elsewhere = org.post("/api/v1/deployments", {"name": "Other", "project_id": other["id"]})
    elsewhere = elsewhere.json()["data"]
    assert first["is_production"] and not second["is_production"]
    assert org.get(f"/api/v1/projects/{project['id']}").json()["data"][
        "production_deployment_id"] == first["id"]

    moved = org.patch(f"/api/v1/projects/{project['id']}",
                      {"production_deployment_id": second["id"]})
    assert moved.status_code == 200 and moved.json()["data"]["production_deployment_id"] == second["id"]
    assert org.get(f"/api/v1/deployments/{second['id']}").json()["data"]["is_production"]
    wrong = org.patch(f"/api/v1/projects/{project['id']}",
                      {"production_deployment_id": elsewhere["id"]})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"]["field"] == "production_deployment_id"
    assert org.patch(f"/api/v1/projects/{project['id']}",
                     {"production_deployment_id": "nope"}).status_code == 404

    org.delete(f"/api/v1/deployments/{second['id']}")
    after = org.get(f"/api/v1/projects/{project['id']}").json()["data"]
    assert after["production_deployment_id"] == first["id"]
