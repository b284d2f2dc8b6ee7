"""The Python client library against a real hostplane server (sync and async), and its retry
rules against a server that answers 503 and 429 on purpose."""

from __future__ import annotations

import asyncio
import uuid
from io import BytesIO

import httpx
import pytest
from PIL import Image

from hostplane.client import AsyncHostplane, Hostplane, errors, models
from tests.api.test_spec_example import create_dns


@pytest.fixture
def hp(org, base_url):
    with Hostplane(base_url, org.api_key) as client:
        yield client


def test_the_spec_flow_from_python(hp, zone):
    ws = hp.workspaces.create("Dr Smith Clinic", external_workspace_id="clinic_123")
    assert isinstance(ws, models.Workspace)
    assert hp.workspaces.create("Dr Smith Clinic", external_workspace_id="clinic_123").reused
    project = hp.projects.create(ws.id, "Lead Magnet", external_project_id="lead_magnet_789")
    sandbox = hp.sandboxes.create(project_id=project.id, external_user_id="dr-smith-456")
    assert sandbox.state == "running" and sandbox.project_id == project.id
    assert hp.sandboxes.exec(sandbox.id, 'python3 -c "print(1+1)"').stdout.strip() == "2"
    preview = hp.sandboxes.expose(sandbox.id, 5173)
    assert preview.url == f"https://5173-{sandbox.slug}.sandbox.miosa.ai"  # the server's URL
    dep = hp.deployments.create("Lead Magnet", project_id=project.id)
    assert dep.url == dep.public_url and dep.url.endswith(f".{hp.org.show().slug}.miosa.app")

    site = f"py{uuid.uuid4().hex[:10]}.com"
    domain = hp.domains.add(f"program.{site}", target_type="deployment", target_id=dep.id)
    assert domain.status == "pending" and {r.purpose for r in domain.dns_records} == {
        "ownership", "routing"}
    create_dns(zone, [r.model_dump() for r in domain.dns_records])
    assert hp.domains.verify(domain.id).verified is True
    assert hp.deployments.get(dep.id).url == f"https://program.{site}"
    assert [e.event for e in hp.domains.events(domain.id)] == ["created", "verified"]


def test_lists_page_through_everything(hp):
    ws = hp.workspaces.create(f"Paging {uuid.uuid4().hex[:6]}")
    made = {hp.sandboxes.create(workspace_id=ws.id).id for _ in range(5)}
    seen = [s.id for s in hp.sandboxes.iter(workspace_id=ws.id, limit=2)]
    assert set(seen) == made and len(seen) == 5


def test_errors_mirror_the_server(hp, org, other_org, base_url):
    with pytest.raises(errors.NotFound) as missing:
        hp.sandboxes.get("no-such-sandbox")
    assert missing.value.code == "SANDBOX_NOT_FOUND" and missing.value.request_id
    with pytest.raises(errors.ValidationFailed) as invalid:
        hp.branding.set(support_url="help.example.com")
    assert invalid.value.field == "support_url" and invalid.value.fix
    with pytest.raises(errors.WorkspaceNameExists):
        hp.workspaces.create("Twice")
        hp.workspaces.create("Twice")
    with Hostplane(base_url, "msk_live_not_a_key") as stranger, \
            pytest.raises(errors.Unauthenticated):
        stranger.workspaces.list()
    with Hostplane("http://127.0.0.1:9", org.api_key, max_retries=0) as nowhere, \
            pytest.raises(errors.ConnectionFailed):
        nowhere.workspaces.list()


def test_domains_claimed_elsewhere_are_their_own_error(hp, other_org, base_url, zone):
    site = f"claim{uuid.uuid4().hex[:10]}.com"
    mine = hp.preview_domain.set(site)
    # Proven with the TXT record too: only such a claim keeps other organizations out.
    create_dns(zone, [r.model_dump() for r in mine.dns_records], everything=True)
    assert hp.preview_domain.verify().verified is True
    with Hostplane(base_url, other_org.api_key) as theirs, pytest.raises(errors.DomainClaimed):
        theirs.deployment_domain.set(site)


def test_branding_tokens_keys_checklist_and_audit(hp):
    out = BytesIO()
    Image.new("RGB", (1920, 1080)).save(out, format="PNG")
    assert hp.branding.set(custom_app_name="ClinicIQ").product_name == "ClinicIQ"
    assert hp.branding.upload_wallpaper(out.getvalue()).wallpaper["status"] == "ready"
    assert hp.branding.set(support_email=None).product_name == "ClinicIQ"  # a merge
    ws = hp.workspaces.create(f"Tokens {uuid.uuid4().hex[:6]}")
    token = hp.browser_tokens.create(["sandbox:read"], workspace_id=ws.id,
                                     external_user_id="dr-smith")
    assert token.token and token.status == "active"
    assert token.id in {t.id for t in hp.browser_tokens.list()}
    assert hp.browser_tokens.revoke(token.id).status == "revoked"
    key = hp.api_keys.create("backend", scopes=["sandbox:read"])
    assert key.key and key.key.startswith("msk_")
    assert hp.api_keys.revoke(key.id).status == "revoked"
    checklist = hp.org.checklist()
    assert {i.key: i.status for i in checklist.items}["branding"] == "done"
    actions = {e.action for e in hp.audit_log.iter()}
    assert {"branding.update", "browser_token.create", "api_key.create"} <= actions


def test_the_async_client(org, base_url):
    async def run():
        async with AsyncHostplane(base_url, org.api_key) as hp:
            ws = await hp.workspaces.create("Async", external_workspace_id="async-1")
            sandboxes = await asyncio.gather(*(hp.sandboxes.create(workspace_id=ws.id)
                                               for _ in range(3)))
            listed = [s.id async for s in hp.sandboxes.iter(workspace_id=ws.id, limit=2)]
            return {s.id for s in sandboxes}, set(listed), (await hp.org.show()).slug

    made, listed, slug = asyncio.run(run())
    assert made == listed and len(made) == 3 and slug == org.slug


def test_retries_honour_retry_after_and_keep_the_idempotency_key():
    """A server that fails twice (503, then 429 with retry_after) before it creates."""
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("idempotency-key"))
        if len(seen) == 1:
            return httpx.Response(503, json={"error": {"code": "UNAVAILABLE", "message": "busy"}})
        if len(seen) == 2:
            return httpx.Response(429, json={"error": {"code": "RATE_LIMITED", "message": "slow",
                                                       "retry_after": 0.01}})
        return httpx.Response(201, json={"id": "w1", "name": "W", "slug": "w"})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    with Hostplane("http://hostplane.test", "msk_x", http=http) as hp:
        assert hp.workspaces.create("W").id == "w1"
    assert len(seen) == 3 and seen[0] and len(set(seen)) == 1  # one key for every attempt

    exec_calls = []

    def busy(request: httpx.Request) -> httpx.Response:
        exec_calls.append(request)
        return httpx.Response(503, json={"error": {"code": "UNAVAILABLE", "message": "busy"}})

    with Hostplane("http://hostplane.test", "msk_x",
                   http=httpx.Client(transport=httpx.MockTransport(busy))) as hp, \
            pytest.raises(errors.ServerError):
        hp.sandboxes.exec("s1", "rm -rf /tmp/x")
    assert len(exec_calls) == 1  # a command is never re-run on its own


def test_settings_come_from_the_environment(monkeypatch, org, base_url):
    monkeypatch.setenv("MIOSA_BASE_URL", base_url)
    monkeypatch.setenv("MIOSA_API_KEY", org.api_key)
    with Hostplane() as hp:
        assert hp.org.show().slug == org.slug
    monkeypatch.delenv("MIOSA_API_KEY")
    monkeypatch.delenv("HOSTPLANE_API_KEY", raising=False)
    with pytest.raises(errors.HostplaneError, match="No API key"):
        Hostplane()


def _scripted(*answers):
    """A server that gives these answers in turn (status, json, headers)."""
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        status, body, headers = answers[min(len(calls), len(answers)) - 1]
        return httpx.Response(status, json=body, headers=headers)

    return httpx.Client(transport=httpx.MockTransport(answer)), calls


def busy(code: str, status: int = 503, **extra):
    return (status, {"error": {"code": code, "message": "…", **extra}}, {})


def test_a_create_still_running_elsewhere_is_waited_for():
    http, calls = _scripted(busy("IDEMPOTENCY_KEY_IN_USE", 409),
                            (201, {"id": "w1", "name": "W", "slug": "w"}, {}))
    with Hostplane("http://hostplane.test", "msk_x", http=http) as hp:
        assert hp.workspaces.create("W").id == "w1"
    assert len(calls) == 2


def test_an_hourly_limit_is_raised_at_once_not_slept_through():
    import time

    http, calls = _scripted(busy("RATE_LIMITED", 429, retry_after=3600))
    started = time.monotonic()
    with Hostplane("http://hostplane.test", "msk_x", http=http) as hp, \
            pytest.raises(errors.RateLimited) as limited:
        hp.domains.verify("d1")
    assert time.monotonic() - started < 5 and len(calls) == 1
    assert limited.value.retry_after == 3600


def test_a_lost_answer_to_a_secret_create_is_an_error_not_a_missing_key():
    replay = (201, {"data": {"id": "k1", "name": "b", "key_prefix": "msk_live_ab", "scopes": ["*"],
                             "status": "active", "key": None}}, {"Idempotent-Replayed": "true"})
    http, _ = _scripted(busy("UNAVAILABLE"), replay)
    with Hostplane("http://hostplane.test", "msk_x", http=http) as hp, \
            pytest.raises(errors.HostplaneError, match="shown only once"):
        hp.api_keys.create("b")


def test_a_delete_whose_first_answer_was_lost_succeeds():
    http, calls = _scripted(busy("UNAVAILABLE"), busy("WORKSPACE_NOT_FOUND", 404))
    with Hostplane("http://hostplane.test", "msk_x", http=http) as hp:
        assert hp.workspaces.delete("w1") is None
    assert len(calls) == 2
    http, _ = _scripted(busy("WORKSPACE_NOT_FOUND", 404))
    with Hostplane("http://hostplane.test", "msk_x", http=http) as hp, \
            pytest.raises(errors.NotFound):
        hp.workspaces.delete("w1")  # a first answer of 404 is the truth


def test_a_miosa_style_base_url_works(org, base_url):
    with Hostplane(base_url + "/api/v1", org.api_key) as hp:
        assert hp.org.show().slug == org.slug


def test_databases_from_python(hp):
    db = hp.databases.create(engine="sqlite", name="form submissions")
    found = hp.databases.credentials(db.id)
    assert found["url"].startswith("sqlite:///") and found["engine"] == "sqlite"
    assert hp.databases.stop(db.id).state == "stopped"
    assert hp.databases.start(db.id).state == "running"
    with pytest.raises(errors.ValidationFailed) as refused:
        hp.databases.create(engine="mongodb")
    assert refused.value.code == "ENGINE_NOT_AVAILABLE" and refused.value.field == "engine"


def test_publishing_from_python(hp):
    sandbox = hp.sandboxes.create()
    dep = hp.deployments.create(f"Site {uuid.uuid4().hex[:6]}")
    for html in ("one", "two"):
        hp.sandboxes.exec(sandbox.id, f"mkdir -p out && echo {html} > out/index.html")
        published = hp.deployments.publish(dep.id, sandbox.id, output_path="out")
        assert published["version"]["state"] == "ready"
    first, second = hp.deployments.versions(dep.id)
    assert hp.deployments.rollback(dep.id).active_version_id == first["id"]
    assert hp.deployments.promote(dep.id, second["id"]).active_version_id == second["id"]
