"""The official `miosa` Python client (pinned 2.19.2), unchanged, against a real hostplane server:
the conformance checklist of the client contract (§19), one test per item."""

from __future__ import annotations

import uuid

import pytest

miosa = pytest.importorskip("miosa")
from miosa import errors as miosa_errors  # noqa: E402

from tests.api.test_spec_example import create_dns  # noqa: E402


@pytest.fixture
def client(org, base_url):
    made = miosa.Miosa(api_key=org.api_key, base_url=base_url)
    yield made
    close = getattr(made, "close", None)
    if close:
        close()


def test_1_every_response_is_json_with_a_request_id(org, anon):
    resp = anon.get("/api/v1/workspaces")
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["x-request-id"]
    assert resp.json()["error"]["code"] == "UNAUTHENTICATED"


def test_2_and_3_organizations(client, org, base_url):
    listed = client.organizations.list()
    assert [o["slug"] for o in listed] == [org.slug]
    current = client.organizations.current()
    assert (current["name"], current["slug"]) == (org.name, org.slug)
    with_tenant = miosa.Miosa(api_key=org.api_key, base_url=base_url, tenant=org.slug)
    assert with_tenant.organizations.current()["slug"] == org.slug
    wrong = miosa.Miosa(api_key=org.api_key, base_url=base_url, tenant="someone-else")
    with pytest.raises(miosa_errors.NotFoundError):
        wrong.organizations.current()


def test_4_workspaces_reuse_and_name_exists(client):
    first = client.workspaces.create("Dr Smith Clinic", external_workspace_id="clinic_123")
    again = client.workspaces.create("Dr Smith Clinic", external_workspace_id="clinic_123")
    assert again.id == first.id and again.reused is True
    with pytest.raises(miosa_errors.WorkspaceNameExistsError):
        client.workspaces.create("Dr Smith Clinic")


def test_5_sandboxes_with_every_selector_and_idempotent_retry(client, org):
    key = f"conf-{uuid.uuid4().hex}"
    sandbox = client.sandboxes.create(
        template_id="miosa-sandbox", workspace_slug="dr-smith", project_slug="lead-magnet",
        external_workspace_id="clinic_123", external_project_id="lead_magnet_789",
        external_user_id="dr-smith-456", idempotency_key=key)
    assert sandbox.state == "running"
    assert sandbox.workspace_id and sandbox.project_id
    assert sandbox.preview_url.endswith(".sandbox.miosa.ai")
    replay = client.sandboxes.create(
        template_id="miosa-sandbox", workspace_slug="dr-smith", project_slug="lead-magnet",
        external_workspace_id="clinic_123", external_project_id="lead_magnet_789",
        external_user_id="dr-smith-456", idempotency_key=key)
    assert replay.id == sandbox.id
    assert sandbox.expose(5173) == f"https://5173-{sandbox.slug}.sandbox.miosa.ai"
    preview = sandbox.preview.create(port=5173)
    assert preview["url"] == f"https://5173-{sandbox.slug}.sandbox.miosa.ai"
    result = sandbox.run('python3 -c "print(1+1)"')
    assert result.output.strip() == "2"


def test_6_deployments_and_their_domains(client):
    deployment = client.deployments.create(name="Lead Magnet",
                                           external_workspace_id="clinic_123")
    assert deployment.slug == "lead-magnet" and deployment.metadata == {}
    assert deployment.public_url == deployment.url
    assert deployment.public_url.endswith(".miosa.app")
    domain = client.deployments.domains(deployment.id).add(
        f"program.site{uuid.uuid4().hex[:8]}.com")
    assert domain["status"] == "pending" and domain["verification_target"]
    assert isinstance(domain["instructions"], str) and domain["dns_records"]


def test_7_computers_are_bare_and_their_domains_validate(client):
    computer = client.computers.create("desk")
    assert computer.status in ("stopped", "running", "provisioning", "starting", "error")
    registered = computer.domains.register(f"desktop.site{uuid.uuid4().hex[:8]}.com")
    assert registered.fqdn.startswith("desktop.") and isinstance(registered.instructions, str)


def test_8_preview_domain_and_branding_with_the_clients_bodies(client, zone):
    name = f"conf{uuid.uuid4().hex[:10]}.dev"
    record = client.tenant.preview_domain.set(name)
    assert record["domain"] == name and record["verified"] is False
    create_dns(zone, record["dns_records"])
    assert client.tenant.preview_domain.verify()["verified"] is True
    assert client.tenant.preview_domain.get()["status"] == "verified"
    client.tenant.preview_domain.delete()
    assert client.tenant.preview_domain.get()["domain"] is None

    client.tenant.branding.set({"product_name": "ClinicIQ",
                                "logo_url": "https://cliniciq.com/logo-dark.png",
                                "support_url": "https://help.cliniciq.com",
                                "support_email": "help@cliniciq.com",
                                "primary_color": "#0F766E", "background_color": "#FFFFFF"})
    got = client.tenant.branding.get()
    assert got["custom_app_name"] == "ClinicIQ" and got["primary_color"] == "#0f766e"
    client.tenant.branding.delete()
    assert client.tenant.branding.get()["product_name"] is None


def test_9_scoped_tokens(client, base_url):
    ws = client.workspaces.create("Tokens", external_workspace_id=f"t-{uuid.uuid4().hex[:8]}")
    scoped = client.tokens.create_scoped(user_id="dr-smith-456", workspace_id=ws.id,
                                         scopes=["sandbox:read"])
    data = scoped.get("data", scoped)
    assert data["token"] and data["expires_at"] and data["scopes"] == ["sandbox:read"]
    listed = client.tokens.list_scoped()
    assert any(t["id"] == data["id"] for t in listed)
    as_user = miosa.Miosa(access_token=data["token"], base_url=base_url)
    assert as_user.sandboxes.list() == []
    client.tokens.delete_scoped(data["id"])


def test_10_usage(client):
    client.sandboxes.create(template_id="miosa-sandbox", external_workspace_id="clinic_123")
    usage = client.usage.get(group_by="workspace_id")
    assert {"period_start", "period_end", "results"} <= set(usage)
    assert usage["results"] and usage["results"][0]["sandboxes"] >= 1


def test_publish_and_rollback_validate_as_the_clients_models(client):
    sandbox = client.sandboxes.create(template_id="miosa-sandbox")
    deployment = client.deployments.create(name="Published Site")
    for html in ("v1", "v2"):
        sandbox.run(f"mkdir -p dist && echo {html} > dist/index.html")
        result = client.deployments.publish(deployment.id, source_sandbox_id=sandbox.id,
                                            output_path="dist")
        assert result.version.state == "ready" and result.deployment.state == "running"
    versions = client.deployments.versions(deployment.id).list()
    assert [v.version_number for v in versions] == [1, 2]
    back = client.deployments.rollback(deployment.id)
    assert back.active_version_id == versions[0].id
    promoted = client.deployments.versions(deployment.id).promote(versions[1].id)
    assert promoted.active_version_id == versions[1].id


def test_exec_stream_frames_as_the_client_reads_them(client):
    sandbox = client.sandboxes.create(template_id="miosa-sandbox")
    events = list(sandbox.exec_stream("echo out; echo err >&2; exit 4"))
    kinds = [(e.type, e.data) for e in events]
    assert ("stdout", {"line": "out"}) in kinds and ("stderr", {"line": "err"}) in kinds
    assert events[-1].type == "exit" and events[-1].data["exit_code"] == 4
