"""Organization identity (spec §1): temporary slugs, one-time setup, permanence, the setup gate."""

from __future__ import annotations

import re

from tests.factories import unique


def test_new_account_has_temporary_slug_and_needs_setup(new_org):
    org = new_org(name=None)
    body = org.get("/api/v1/platform/tenants/current").json()
    assert re.fullmatch(r"org-[a-z0-9]{8}", body["slug"])
    assert body["setup_required"] is True
    assert body["setup_reason_code"] == "TEMPORARY_SLUG"
    assert "temporary" in body["setup_reason"]
    for key in ("id", "name", "slug", "created_at", "updated_at"):
        assert key in body


def test_list_is_wrapped_in_data(org):
    resp = org.get("/api/v1/platform/tenants")
    assert resp.status_code == 200
    assert [t["id"] for t in resp.json()["data"]] == [org.tenant_id]


def test_setup_sets_name_and_derives_slug_once(new_org):
    org = new_org(name=None)
    name = "Café Olé " + unique("Clinic")
    resp = org.put(f"/api/v1/tenants/{org.tenant_id}", {"name": name})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == name
    assert body["slug"].startswith("cafe-ole-clinic-")
    assert body["setup_required"] is False
    # Same values again: 200, nothing changes.
    again = org.put(f"/api/v1/tenants/{org.tenant_id}", {"name": name, "slug": body["slug"]})
    assert again.status_code == 200
    assert again.json()["slug"] == body["slug"]
    # A different name afterwards: 409, and the message says it is permanent.
    changed = org.put(f"/api/v1/tenants/{org.tenant_id}", {"name": name + " Renamed"})
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "ORGANIZATION_IDENTITY_PERMANENT"
    assert "permanent" in changed.json()["error"]["message"]
    assert org.get("/api/v1/platform/tenants/current").json()["name"] == name


def test_setup_by_slug_in_path_and_patch(new_org):
    org = new_org(name=None)
    slug = org.get("/api/v1/platform/tenants/current").json()["slug"]
    resp = org.patch(f"/api/v1/tenants/{slug}", {"name": unique("Patchy")})
    assert resp.status_code == 200


def test_supplied_slug_must_match_normalized_name(new_org):
    org = new_org(name=None)
    name = unique("ClinicIQ")
    resp = org.put(f"/api/v1/tenants/{org.tenant_id}", {"name": name, "slug": "clinic-iq"})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "VALIDATION_FAILED"
    assert err["details"]["field"] == "slug"
    expected = err["details"]["expected_slug"]
    assert expected in err["message"]
    ok = org.put(f"/api/v1/tenants/{org.tenant_id}", {"name": name, "slug": expected})
    assert ok.status_code == 200


def test_slug_held_by_another_organization_is_409(new_org):
    first = new_org()
    second = new_org(name=None)
    resp = second.put(f"/api/v1/tenants/{second.tenant_id}", {"name": first.name})
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "SLUG_TAKEN"
    assert first.tenant_id not in resp.text
    assert second.get("/api/v1/platform/tenants/current").json()["setup_required"] is True


def test_names_that_give_no_usable_slug_are_refused(new_org):
    org = new_org(name=None)
    for name, code in [("!!!", "VALIDATION_FAILED"), ("Admin", "SLUG_RESERVED"),
                       ("API", "SLUG_RESERVED"), ("org 1a2b3c4d", "SLUG_RESERVED")]:
        resp = org.put(f"/api/v1/tenants/{org.tenant_id}", {"name": name})
        assert resp.status_code == 422, (name, resp.text)
        assert resp.json()["error"]["code"] == code
        assert resp.json()["error"]["details"]["field"] == "name"
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": 5}, {"name": "x" * 201}):
        resp = org.put(f"/api/v1/tenants/{org.tenant_id}", body)
        assert resp.status_code == 422, body
        assert resp.json()["error"]["details"]["field"] == "name"
    assert org.get("/api/v1/platform/tenants/current").json()["setup_required"] is True


def test_setup_gate_blocks_creates_but_not_reads(new_org):
    org = new_org(name=None)
    for path, body in [("/api/v1/workspaces", {"name": "Dr. Smith Clinic"}),
                       ("/api/v1/projects", {"name": "P", "workspace_slug": "x"})]:
        resp = org.post(path, body)
        assert resp.status_code == 409, resp.text
        assert resp.json()["error"]["code"] == "SETUP_REQUIRED"
        assert "organization name" in resp.json()["error"]["message"]
    assert org.get("/api/v1/workspaces").status_code == 200
    assert org.get("/api/v1/platform/tenants/current").status_code == 200
    org.put(f"/api/v1/tenants/{org.tenant_id}", {"name": unique("Now Named")})
    assert org.post("/api/v1/workspaces", {"name": "Dr. Smith Clinic"}).status_code == 201


def test_tenant_header_is_checked(org, other_org):
    for value in (org.tenant_id, org.slug):
        resp = org.get("/api/v1/platform/tenants/current", headers={"X-MIOSA-Tenant": value})
        assert resp.status_code == 200
    for value in (other_org.tenant_id, other_org.slug, "nope"):
        resp = org.get("/api/v1/platform/tenants/current", headers={"X-MIOSA-Tenant": value})
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "ORG_NOT_FOUND"


def test_other_organization_is_not_found(org, other_org):
    for method in ("get", "put"):
        resp = getattr(org, method)(f"/api/v1/tenants/{other_org.tenant_id}",
                                    **({"json": {"name": "x"}} if method == "put" else {}))
        assert resp.status_code == 404


def test_api_keys_cannot_switch_organization(org):
    resp = org.post(f"/api/v1/platform/tenants/{org.slug}/switch", {})
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "SWITCH_REQUIRES_SESSION"


def test_plan_is_wrapped(org):
    body = org.get("/api/v1/tenant/plan").json()
    assert body["data"]["tenant"]["id"] == org.tenant_id
