"""GET /tenant/setup: the spec's "Complete setup checklist", each item computed from real state."""

from __future__ import annotations

import uuid

from tests.api.test_spec_example import create_dns


def statuses(org):
    resp = org.get("/api/v1/tenant/setup")
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    return {i["key"]: i["status"] for i in data["items"]}, data


def test_a_new_organization_starts_with_its_name(new_org):
    org = new_org(name=None)
    found, data = statuses(org)
    assert found["organization_name"] == found["permanent_slug"] == "todo"
    assert data["next"].startswith(f"PUT /api/v1/tenants/{org.tenant_id}")
    assert data["complete"] is False


def test_the_checklist_follows_what_the_organization_does(org, zone):
    found, data = statuses(org)
    assert found == {
        "organization_name": "done", "permanent_slug": "done", "workspaces": "todo",
        "projects": "todo", "store_ids": "todo", "fallback_urls": "todo",
        "preview_domain": "optional", "deployment_domain": "optional",
        "custom_domains": "optional", "branding": "todo", "browser_tokens": "todo",
        "browser_origins": "optional"}
    assert data["next"].startswith("POST /api/v1/workspaces")

    ws = org.workspace(external_workspace_id="clinic_123")
    project = org.project(ws["id"])
    org.post("/api/v1/sandboxes", {"project_id": project["id"]})
    dom = f"setup{uuid.uuid4().hex[:10]}.dev"
    preview = org.put("/api/v1/tenant/preview-domain", {"preview_domain": dom}).json()
    found, _ = statuses(org)
    assert {k: found[k] for k in ("workspaces", "projects", "store_ids", "fallback_urls")} == {
        "workspaces": "done", "projects": "done", "store_ids": "done", "fallback_urls": "done"}
    assert found["preview_domain"] == "todo"  # set, not verified yet

    create_dns(zone, preview["dns_records"])
    org.post("/api/v1/tenant/preview-domain/verify")
    org.put("/api/v1/tenant/branding", {"custom_app_name": "ClinicIQ"})
    org.post("/api/v1/browser-tokens", {"workspace_id": ws["id"], "permissions": ["sandbox:read"]})
    found, data = statuses(org)
    assert found["preview_domain"] == found["branding"] == found["browser_tokens"] == "done"
    assert data["complete"] is True and data["next"] is None
    assert data["todo"] == 0 and data["optional"] == 3  # deployment and custom domains, origins
