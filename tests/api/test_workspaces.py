"""Workspaces (spec §2, contract §6): reuse by external id, name conflicts, default projects."""

from __future__ import annotations

from tests.factories import unique


def test_create_returns_bare_workspace_with_default_project(org):
    resp = org.post("/api/v1/workspaces", {"name": "Dr. Smith Clinic", "description": "d",
                                           "metadata": {"tier": "gold"}})
    assert resp.status_code == 201, resp.text
    ws = resp.json()
    assert ws["name"] == "Dr. Smith Clinic" and ws["slug"] == "dr-smith-clinic"
    assert ws["tenant_id"] == org.tenant_id and ws["metadata"] == {"tier": "gold"}
    assert ws["reused"] is False
    projects = org.get(f"/api/v1/workspaces/{ws['id']}/projects").json()["data"]
    assert [(p["slug"], p["is_default"]) for p in projects] == [("default", True)]


def test_known_external_id_is_reused(org):
    ext = unique("clinic")
    first = org.post("/api/v1/workspaces", {"name": "Downtown Dental", "external_workspace_id": ext})
    second = org.post("/api/v1/workspaces", {"name": "Another Name", "external_workspace_id": ext})
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["reused"] is True
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["name"] == "Downtown Dental"
    listed = org.get("/api/v1/workspaces", params={"external_workspace_id": ext}).json()["data"]
    assert len(listed) == 1


def test_same_name_without_external_id_is_409_with_existing(org):
    first = org.workspace("Booking Portal Co")
    resp = org.post("/api/v1/workspaces", {"name": "booking portal co"})
    assert resp.status_code == 409
    err = resp.json()["error"]
    assert err["code"] == "WORKSPACE_NAME_EXISTS"
    assert err["existing"]["id"] == first["id"]
    dup = org.post("/api/v1/workspaces", {"name": "Booking Portal Co", "allow_duplicate_name": True})
    assert dup.status_code == 201
    assert dup.json()["slug"] == "booking-portal-co-2"


def test_slugs_are_unique_per_organization_not_globally(org, other_org):
    a = org.workspace("Shared Name")
    b = other_org.workspace("Shared Name")
    assert a["slug"] == b["slug"] == "shared-name"


def test_explicit_slug_taken_is_409_and_bad_slug_is_422(org):
    org.workspace("One", slug="taken-slug")
    resp = org.post("/api/v1/workspaces", {"name": "Two", "slug": "taken-slug"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "SLUG_TAKEN"
    resp = org.post("/api/v1/workspaces", {"name": "Three", "slug": "Not A Slug"})
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "slug"
    assert "'not-a-slug'" in resp.json()["error"]["details"]["fix"]


def test_get_patch_settings_delete(org):
    ws = org.workspace()
    got = org.get(f"/api/v1/workspaces/{ws['id']}")
    assert got.status_code == 200 and got.json()["id"] == ws["id"]
    patched = org.patch(f"/api/v1/workspaces/{ws['id']}",
                        {"name": "Renamed", "metadata": {"a": "b"}, "description": None})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed" and patched.json()["metadata"] == {"a": "b"}
    assert patched.json()["slug"] == ws["slug"]  # slugs stay put when names change
    settings = org.put(f"/api/v1/workspaces/{ws['id']}/settings", {"theme": "dark"})
    assert settings.status_code == 200
    assert settings.json()["id"] == ws["id"] and settings.json()["settings"] == {"theme": "dark"}
    usage = org.get(f"/api/v1/workspaces/{ws['id']}/usage").json()["data"]
    assert usage["projects"] == 1 and usage["workspace_id"] == ws["id"]
    assert org.get(f"/api/v1/workspaces/{ws['id']}/stats").json()["data"]["projects"] == 1
    deleted = org.delete(f"/api/v1/workspaces/{ws['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert org.get(f"/api/v1/workspaces/{ws['id']}").status_code == 404
    assert org.get("/api/v1/projects", params={"workspace_id": ws["id"]}).json()["data"] == []


def test_list_pages_with_cursor_and_offset(org):
    made = [org.workspace(f"Page {i}") for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = org.get("/api/v1/workspaces", params=params).json()
        seen += [w["id"] for w in body["data"]]
        cursor = body["next_cursor"]
        assert body["meta"]["total"] == 5
        if not cursor:
            break
    assert seen == [w["id"] for w in made]
    page2 = org.get("/api/v1/workspaces", params={"page": 2, "per_page": 2}).json()
    assert [w["id"] for w in page2["data"]] == seen[2:4]
    bad = org.get("/api/v1/workspaces", params={"cursor": "garbage!"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "cursor"
    too_big = org.get("/api/v1/workspaces", params={"limit": 1000})
    assert too_big.status_code == 422 and too_big.json()["error"]["details"]["field"] == "limit"


def test_bad_bodies_are_422_naming_the_field(org):
    cases = [({}, "name"), ({"name": ""}, "name"), ({"name": 12}, "name"),
             ({"name": "x", "metadata": "nope"}, "metadata"),
             ({"name": "x", "allow_duplicate_name": "maybe"}, "allow_duplicate_name"),
             ({"name": "x", "external_workspace_id": ""}, "external_workspace_id")]
    for body, field in cases:
        resp = org.post("/api/v1/workspaces", body)
        assert resp.status_code == 422, body
        assert resp.json()["error"]["details"]["field"] == field, (body, resp.text)
    assert org.get("/api/v1/workspaces").json()["meta"]["total"] == 0


def test_unknown_fields_are_ignored(org):
    resp = org.post("/api/v1/workspaces", {"name": unique("Ws"), "color": "blue", "nested": {"a": 1}})
    assert resp.status_code == 201
    assert "color" not in resp.json()


def test_duplicate_names_are_found_beyond_ascii(org):
    org.workspace("Ärzte Haus")
    for other in ("ärzte haus", "ÄRZTE HAUS"):
        resp = org.post("/api/v1/workspaces", {"name": other})
        assert resp.status_code == 409, other
    org.workspace("Straße Eins")
    assert org.post("/api/v1/workspaces", {"name": "STRASSE EINS"}).status_code == 409
    renamed = org.workspace("Zwei")
    org.patch(f"/api/v1/workspaces/{renamed['id']}", {"name": "École Trois"})
    assert org.post("/api/v1/workspaces", {"name": "école trois"}).status_code == 409


def test_delete_dry_run_deletes_nothing(org):
    ws = org.workspace()
    dry = org.delete(f"/api/v1/workspaces/{ws['id']}", params={"dry_run": "true", "force": "true"})
    assert dry.status_code == 200
    assert dry.json()["deleted"] is False and dry.json()["would_delete"]["projects"] == 1
    assert org.get(f"/api/v1/workspaces/{ws['id']}").status_code == 200
