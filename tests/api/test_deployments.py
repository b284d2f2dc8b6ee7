"""Deployments (contract §10.1): slugs from names, URLs from the engine, projects, lists."""

from __future__ import annotations

import uuid

from tests.factories import unique

BASE = "/api/v1/deployments"
STATES = {"pending", "building", "running", "stopped", "failed"}


def create(org, name="Lead Magnet", **body):
    resp = org.post(BASE, {"name": name, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def fallback(org, slug):
    return f"https://{slug}.{org.slug}.miosa.app"


def error_of(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    if code is not None:
        assert err["code"] == code, err
    return err


def test_create_derives_the_slug_and_answers_every_url_layer(org):
    resp = org.post(BASE, {"name": "Lead Magnet"})
    assert resp.status_code == 201, resp.text
    assert set(resp.json()) == {"data"}
    dep = resp.json()["data"]
    assert dep["id"] and dep["tenant_id"] == org.tenant_id and dep["name"] == "Lead Magnet"
    assert dep["slug"] == "lead-magnet"
    assert dep["state"] in STATES
    assert dep["metadata"] == {} and isinstance(dep["metadata"], dict)
    assert isinstance(dep["auto_deploy"], bool)
    assert dep["public_url"] == dep["url"] == fallback(org, "lead-magnet")
    assert dep["urls"] == {"fallback": fallback(org, "lead-magnet"), "branded": None, "custom": []}
    assert dep["workspace_id"] and dep["project_id"]
    got = org.get(f"{BASE}/{dep['id']}")
    assert got.status_code == 200 and got.json()["data"]["url"] == dep["url"]


def test_metadata_and_auto_deploy_round_trip(org):
    dep = create(org, "Meta", metadata={"tier": "gold"}, auto_deploy=True)
    assert dep["metadata"] == {"tier": "gold"} and dep["auto_deploy"] is True
    resp = org.post(BASE, {"name": "Null meta", "metadata": None, "auto_deploy": False})
    assert resp.status_code == 201, resp.text
    assert resp.json()["data"]["metadata"] == {}


def test_idempotency_key_replays_the_first_deployment(org):
    key = uuid.uuid4().hex
    first = org.post(BASE, {"name": "Once"}, headers={"Idempotency-Key": key})
    again = org.post(BASE, {"name": "Once"}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.json()["data"]["slug"] == "once"
    assert org.get(BASE).json()["meta"]["total"] == 1


def test_the_same_name_again_gets_the_next_slug(org):
    assert create(org)["slug"] == "lead-magnet"
    assert create(org)["slug"] == "lead-magnet-2"
    assert create(org)["slug"] == "lead-magnet-3"


def test_slugs_are_per_organization(org, other_org):
    assert create(org)["slug"] == create(other_org)["slug"] == "lead-magnet"


def test_explicit_slug_taken_is_409(org):
    create(org, "First", slug="booking")
    err = error_of(org.post(BASE, {"name": "Second", "slug": "booking"}), 409, "SLUG_TAKEN")
    assert err["details"]["field"] == "slug"
    err = error_of(org.post(BASE, {"name": "Bad", "slug": "Not A Slug"}), 422)
    assert err["details"]["field"] == "slug"


def test_deleting_frees_the_slug(org):
    dep = create(org, "Lead Magnet")
    explicit = create(org, "Other", slug="mine")
    for d in (dep, explicit):
        gone = org.delete(f"{BASE}/{d['id']}")
        assert gone.status_code == 200, gone.text
        assert gone.json()["data"]["deleted"] is True
        error_of(org.get(f"{BASE}/{d['id']}"), 404, "DEPLOYMENT_NOT_FOUND")
    assert create(org, "Lead Magnet")["slug"] == "lead-magnet"
    assert create(org, "Other again", slug="mine")["slug"] == "mine"


def test_a_63_character_slug_is_a_valid_fallback_host(org):
    slug = "a" * 63
    dep = create(org, "Long", slug=slug)
    assert dep["slug"] == slug
    assert dep["url"] == dep["public_url"] == fallback(org, slug)
    error_of(org.post(BASE, {"name": "Too long", "slug": "a" * 64}), 422)


def test_a_long_name_gives_a_slug_that_is_one_dns_label(org):
    dep = create(org, "Summer " * 12)
    assert 1 <= len(dep["slug"]) <= 63 and dep["slug"].startswith("summer-summer")
    host = dep["url"].removeprefix("https://")
    assert all(1 <= len(label) <= 63 for label in host.split("."))
    assert host == f"{dep['slug']}.{org.slug}.miosa.app"


def test_project_route_puts_it_in_that_project(org):
    ws = org.workspace()
    project = org.project(ws["id"])
    resp = org.post(f"/api/v1/projects/{project['id']}/deployments", {"name": "Go Client"})
    assert resp.status_code == 201, resp.text
    dep = resp.json()["data"]
    assert (dep["project_id"], dep["workspace_id"]) == (project["id"], ws["id"])
    same = org.post(f"/api/v1/projects/{project['id']}/deployments",
                    {"name": "Same", "project_id": project["id"]})
    assert same.status_code == 201 and same.json()["data"]["project_id"] == project["id"]


def test_project_route_with_a_different_body_project_is_422(org):
    ws = org.workspace()
    a, b = org.project(ws["id"]), org.project(ws["id"])
    resp = org.post(f"/api/v1/projects/{a['id']}/deployments", {"name": "X", "project_id": b["id"]})
    err = error_of(resp, 422, "SELECTOR_CONFLICT")
    assert err["details"]["field"] == "project_id"
    assert org.get(BASE).json()["data"] == []


def test_project_route_with_an_unknown_project_is_404(org):
    resp = org.post(f"/api/v1/projects/{uuid.uuid4()}/deployments", {"name": "X"})
    error_of(resp, 404)


def test_patch_name_keeps_the_slug(org):
    dep = create(org)
    resp = org.patch(f"{BASE}/{dep['id']}", {"name": "Winter Lead Magnet"})
    assert resp.status_code == 200, resp.text
    got = resp.json()["data"]
    assert got["name"] == "Winter Lead Magnet"
    assert got["slug"] == "lead-magnet" and got["url"] == dep["url"]


def test_patch_slug_changes_the_url(org):
    dep = create(org)
    create(org, "Taken", slug="taken")
    resp = org.patch(f"{BASE}/{dep['id']}", {"slug": "winter"})
    assert resp.status_code == 200, resp.text
    got = resp.json()["data"]
    assert got["slug"] == "winter"
    assert got["url"] == got["public_url"] == got["urls"]["fallback"] == fallback(org, "winter")
    assert org.get(f"{BASE}/{dep['id']}").json()["data"]["url"] == fallback(org, "winter")
    error_of(org.patch(f"{BASE}/{dep['id']}", {"slug": "taken"}), 409, "SLUG_TAKEN")
    error_of(org.patch(f"{BASE}/{dep['id']}", {"slug": "Bad Slug"}), 422)
    assert org.get(f"{BASE}/{dep['id']}").json()["data"]["slug"] == "winter"


def test_external_ids_alone_create_then_reuse_the_workspace_and_project(org):
    ext_ws, ext_project = unique("clinic"), unique("project")
    body = {"external_workspace_id": ext_ws, "external_project_id": ext_project}
    first = create(org, "Lead Magnet", **body)
    again = create(org, "Intake Form", **body)
    assert (again["workspace_id"], again["project_id"]) == (
        first["workspace_id"], first["project_id"])
    assert (first["external_workspace_id"], first["external_project_id"]) == (ext_ws, ext_project)
    ws = org.get(f"/api/v1/workspaces/{first['workspace_id']}").json()
    assert ws["external_workspace_id"] == ext_ws and ws["is_default"] is False
    project = org.get(f"/api/v1/projects/{first['project_id']}").json()["data"]
    assert project["external_project_id"] == ext_project
    assert project["workspace_id"] == first["workspace_id"]
    workspaces = org.get("/api/v1/workspaces", params={"external_workspace_id": ext_ws})
    assert len(workspaces.json()["data"]) == 1


def test_list_filters_by_project_and_state(org):
    ws = org.workspace()
    a, b = org.project(ws["id"]), org.project(ws["id"])
    in_a = create(org, "A", project_id=a["id"])
    in_b = create(org, "B", project_id=b["id"])

    def ids(**params):
        resp = org.get(BASE, params=params)
        assert resp.status_code == 200, resp.text
        return {d["id"] for d in resp.json()["data"]}

    assert ids() == {in_a["id"], in_b["id"]}
    assert ids(project_id=a["id"]) == {in_a["id"]}
    assert ids(project_id=b["id"]) == {in_b["id"]}
    assert ids(state=in_a["state"]) == {in_a["id"], in_b["id"]}
    other = next(s for s in sorted(STATES) if s != in_a["state"])
    assert ids(state=other) == set()


def test_a_deleted_deployment_is_listed_under_no_state(org):
    """GET answers 404 for a deleted deployment, so no list may still offer it."""
    dep = create(org)
    org.delete(f"{BASE}/{dep['id']}")
    for state in (None, *sorted(STATES)):
        params = {"state": state} if state else {}
        listed = org.get(BASE, params=params).json()["data"]
        assert dep["id"] not in {d["id"] for d in listed}, state


def test_list_pages_with_a_cursor(org):
    made = [create(org, f"Page {i}")["id"] for i in range(3)]
    first = org.get(BASE, params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = org.get(BASE, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    seen = [d["id"] for d in first["data"] + second["data"]]
    assert sorted(seen) == sorted(made) and second["next_cursor"] is None
