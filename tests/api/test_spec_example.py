"""The spec's ClinicIQ example, end to end through the API, with the spec's platform values."""

from __future__ import annotations

from hostplane.db.scope import Scope
from hostplane.domains.tenant_domains import mark_verified

SPEC_SANDBOX = {
    "template_id": "miosa-sandbox",
    "workspace_slug": "dr-smith-clinic",
    "workspace_name": "Dr. Smith Clinic",
    "project_slug": "summer-lead-magnet",
    "project_name": "Summer Lead Magnet",
    "external_workspace_id": "clinic_123",
    "external_user_id": "dr-smith-456",
    "external_project_id": "project_789",
}


def verify(container, org, kind):
    """What a passed DNS check records (the domain lifecycle's last step)."""
    with container.database.transaction() as session:
        assert mark_verified(Scope(session, org.tenant_id), kind, container.clock.now())


def create_dns(zone, dns_records, *, everything=False):
    """Create the records a domain needs (`everything`: the optional ones too)."""
    for r in dns_records:
        if r["required"] or everything:
            value = f'"{r["value"]}"' if r["type"] == "TXT" else r["value"] + "."
            zone.set(r["name"], r["type"], value)


def test_cliniciq_example(new_org, container, zone):
    org = new_org(name="ClinicIQ")
    assert org.slug == "cliniciq"

    created = org.post("/api/v1/sandboxes", SPEC_SANDBOX)
    assert created.status_code == 201, created.text
    sandbox = created.json()["data"]
    assert sandbox["state"] == "running" and sandbox["ready"] is True
    workspace_id, project_id = sandbox["workspace_id"], sandbox["project_id"]
    slug = sandbox["slug"]
    assert sandbox["preview_url"] == f"https://5173-{slug}.sandbox.miosa.ai"
    assert sandbox["external_user_id"] == "dr-smith-456"

    ws = org.get(f"/api/v1/workspaces/{workspace_id}").json()
    assert (ws["name"], ws["slug"]) == ("Dr. Smith Clinic", "dr-smith-clinic")
    project = org.get(f"/api/v1/projects/{project_id}").json()["data"]
    assert (project["name"], project["slug"]) == ("Summer Lead Magnet", "summer-lead-magnet")

    ran = org.post(f"/api/v1/sandboxes/{sandbox['id']}/exec",
                   {"command": 'python3 -c "print(1+1)"'})
    assert ran.status_code == 200, ran.text
    assert ran.json()["data"]["stdout"].strip() == "2"
    assert ran.json()["data"]["exit_code"] == 0

    database = org.post("/api/v1/databases", {"name": "form submissions", **{
        k: SPEC_SANDBOX[k] for k in ("workspace_slug", "project_slug", "external_user_id")}})
    assert database.status_code == 201, database.text
    assert database.json()["data"]["workspace_id"] == workspace_id
    assert database.json()["data"]["project_id"] == project_id

    # Python sends deployments only external ids (contract §10.1).
    dep = org.post("/api/v1/deployments", {"name": "Lead Magnet",
                                           "external_workspace_id": "clinic_123",
                                           "external_project_id": "project_789"})
    assert dep.status_code == 201, dep.text
    deployment = dep.json()["data"]
    assert deployment["slug"] == "lead-magnet"
    assert (deployment["workspace_id"], deployment["project_id"]) == (workspace_id, project_id)
    assert deployment["public_url"] == deployment["url"] == "https://lead-magnet.cliniciq.miosa.app"

    # §4: the preview domain is used once verified, never before.
    pd = org.put("/api/v1/tenant/preview-domain", {"preview_domain": "cliniciq.dev"})
    assert pd.status_code == 200, pd.text
    assert pd.json()["status"] == "pending" and pd.json()["verified"] is False
    # §4's two CNAMEs; `*` is only recommended (no company can point `*` of its main domain at
    # the platform), so `records`, the short list of what to create, has `*.sandbox` alone.
    routing = {(r["host"], r["value"], r["required"]) for r in pd.json()["dns_records"]
               if r["purpose"] == "routing"}
    assert routing == {("*", "proxy.miosa.ai", False), ("*.sandbox", "proxy.miosa.ai", True)}
    assert [r["name"] for r in pd.json()["records"] if r["type"] == "CNAME"] == ["*.sandbox"]
    again = org.get(f"/api/v1/sandboxes/{sandbox['id']}").json()["data"]
    assert again["preview_url"] == f"https://5173-{slug}.sandbox.miosa.ai"
    # The user creates exactly the DNS records the API listed; a real DNS check verifies them.
    create_dns(zone, pd.json()["dns_records"])
    checked = org.get("/api/v1/tenant/preview-domain/verify")  # GET, as the spec writes it
    assert checked.json()["status"] == "verified", checked.text
    exposed = org.post(f"/api/v1/sandboxes/{sandbox['id']}/expose", {"port": 5173})
    assert exposed.json()["data"]["url"] == f"https://5173-{slug}.sandbox.cliniciq.dev"

    # §5: the deployment domain wins over the fallback once verified; the fallback stays listed.
    dd = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": "apps.cliniciq.com"})
    assert dd.status_code == 200, dd.text
    assert org.get(f"/api/v1/deployments/{deployment['id']}").json()["data"]["url"] == (
        "https://lead-magnet.cliniciq.miosa.app")
    create_dns(zone, dd.json()["dns_records"])
    assert org.post("/api/v1/tenant/deployment-domain/verify").json()["verified"] is True
    final = org.get(f"/api/v1/deployments/{deployment['id']}").json()["data"]
    assert final["public_url"] == final["url"] == "https://lead-magnet.apps.cliniciq.com"
    assert final["urls"] == {"fallback": "https://lead-magnet.cliniciq.miosa.app",
                             "branded": "https://lead-magnet.apps.cliniciq.com", "custom": []}
    assert final["url_source"] == "branded"

    computer = org.post("/api/v1/computers", {"name": "desk", "workspace_id": workspace_id})
    assert computer.status_code == 201, computer.text
    c = computer.json()
    assert c["desktop_url"] == f"https://{c['slug']}.computer.miosa.ai/desktop/index.html"
