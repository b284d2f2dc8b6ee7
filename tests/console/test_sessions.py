"""The console's sessions, CSRF and gate at the HTTP level (issue 17 §1, §2, §5): the cookie's
attributes, the key never kept, expiry, sign-out, refusals shown as the API words them, another
organization's ids as 404 pages, and /api/v1 untouched by the cookie."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select, text, update

from hostplane.audit.models import AuditEvent
from hostplane.console.models import ConsoleSession


def _session_row(container, browser) -> ConsoleSession:
    token_hash = hashlib.sha256(browser.cookies["console_session"].encode()).hexdigest()
    with container.database.transaction(write=False) as session:
        row = session.scalars(select(ConsoleSession)
                              .where(ConsoleSession.token_hash == token_hash)).one()
        session.expunge(row)
        return row


def test_sign_in_keeps_a_session_not_the_key(container, org, browser):
    assert browser.get("/").headers["location"].startswith("/signin")
    resp = browser.sign_in(org.api_key)
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = next(c for c in browser.set_cookies if c.startswith("console_session="))
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attrs and "samesite=lax" in attrs and "secure" in attrs  # https here
    assert org.api_key not in "".join(browser.set_cookies)
    row = _session_row(container, browser)
    assert row.tenant_id == org.tenant_id
    with container.database.transaction(write=False) as session:
        dumped = session.execute(text("SELECT * FROM console_sessions")).all()
    assert org.api_key not in repr(dumped)
    page = browser.get("/")
    assert page.status_code == 200 and org.name in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_wrong_key_is_refused_with_the_api_message(org, browser):
    browser.get("/signin")
    resp = browser.post("/signin", {"key": "msk_nope"})
    assert resp.status_code == 401
    assert "INVALID_API_KEY" in resp.text and "Request id" in resp.text
    assert "console_session" not in browser.cookies


def test_setup_gate_then_slug_then_checklist(new_org, browser):
    fresh = new_org(name=None)
    browser.sign_in(fresh.api_key)
    for path in ("/", "/workspaces", "/domains", "/branding"):
        resp = browser.get(path)
        assert (resp.status_code, resp.headers.get("location")) == (303, "/setup"), path
    assert browser.get("/setup").status_code == 200
    preview = browser.get("/setup/slug", params={"name": "Clinic IQ"})
    assert "clinic-iq" in preview.text and "permanent" in preview.text
    name = f"Gate Test {fresh.tenant_id[:8]}"
    assert browser.post("/setup", {"name": name}).status_code == 303
    page = browser.get("/setup")
    assert "gate-test-" in page.text and 'href="/workspaces"' in page.text
    assert browser.get("/").status_code == 200


def test_forms_without_the_csrf_token_are_refused(org, browser):
    browser.sign_in(org.api_key)
    browser.get("/workspaces")
    for form in ({"name": "no token"}, {"name": "bad token", "csrf": "0" * 64}):
        resp = browser.post("/workspaces", form, csrf="csrf" in form)
        assert resp.status_code == 403 and "CSRF_FAILED" in resp.text
    ok = browser.post("/workspaces", {"name": "with token"})
    assert ok.status_code == 303
    # htmx sends the token as a header instead
    header = browser.post("/workspaces", {"name": "by header"}, csrf=False,
                          headers={"X-CSRF-Token": browser.csrf})
    assert header.status_code == 303
    # the sign-in form has its own token
    other = type(browser)(str(browser.http.base_url))
    refused = other.post("/signin", {"key": org.api_key}, csrf=False)
    assert refused.status_code == 403 and "console_session" not in other.cookies


def test_idle_and_absolute_expiry_and_a_revoked_key_end_the_session(container, org, new_org,
                                                                    browser):
    now = container.clock.now()
    for change in ({"last_seen_at": now - timedelta(minutes=31)},
                   {"expires_at": now - timedelta(seconds=1)}):
        browser.cookies.clear()
        browser.sign_in(org.api_key)
        assert browser.get("/").status_code == 200
        with container.database.transaction() as session:
            session.execute(update(ConsoleSession)
                            .where(ConsoleSession.id == _session_row(container, browser).id)
                            .values(**change))
        resp = browser.get("/workspaces")
        assert resp.status_code == 303 and resp.headers["location"].startswith("/signin"), change
        assert browser.post("/workspaces", {"name": "late"}).status_code == 303
    other = new_org()
    browser.cookies.clear()
    browser.sign_in(other.api_key)
    assert other.get("/api/v1/api-keys").status_code == 200
    key_id = _session_row(container, browser).key_id
    assert other.delete(f"/api/v1/api-keys/{key_id}").status_code == 200
    assert browser.get("/").headers["location"].startswith("/signin")


def test_sign_out_ends_the_session_and_both_are_audited(container, org, browser):
    browser.sign_in(org.api_key)
    old = dict(browser.cookies)
    browser.get("/")
    resp = browser.post("/signout")
    assert resp.status_code == 303 and "console_session" not in browser.cookies
    browser.cookies.update(old)  # the old cookie, replayed
    assert browser.get("/").headers["location"].startswith("/signin")
    with container.database.transaction(write=False) as session:
        actions = session.scalars(select(AuditEvent.action)
                                  .where(AuditEvent.tenant_id == org.tenant_id)).all()
    assert "console_session.create" in actions and "console_session.delete" in actions


def test_console_changes_are_audited_as_the_key(container, org, browser):
    browser.sign_in(org.api_key)
    browser.get("/workspaces")
    browser.post("/workspaces", {"name": "audited", "external_workspace_id": "ext-audit"})
    with container.database.transaction(write=False) as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.tenant_id == org.tenant_id, AuditEvent.action == "workspace.create")).one()
    assert event.actor_type == "api_key" and event.request_id.startswith("req_")
    log = browser.get("/audit", params={"action": "workspace.create"})
    assert event.resource_id in log.text


def test_another_organizations_ids_are_404_pages(org, other_org, browser):
    theirs = other_org.workspace()
    sandbox = other_org.post("/api/v1/sandboxes", json={}).json()["data"]
    browser.sign_in(org.api_key)
    for path in (f"/workspaces/{theirs['id']}", f"/projects/{sandbox['project_id']}",
                 f"/sandboxes/{sandbox['id']}"):
        resp = browser.get(path)
        assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
        assert "Not found" in resp.text and "Request id" in resp.text
        assert theirs["name"] not in resp.text
    api = org.get(f"/api/v1/workspaces/{theirs['id']}").json()
    page = browser.get(f"/workspaces/{theirs['id']}")
    assert api["error"]["message"] in page.text.replace("&#39;", "'")


def test_the_cookie_is_no_credential_for_the_api(org, browser):
    browser.sign_in(org.api_key)
    resp = browser.get("/api/v1/workspaces")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "UNAUTHENTICATED"
    # and the API's guard against keys in pages stands
    page = org.get("/api/v1/workspaces", headers={"Origin": "https://app.example.com"})
    assert page.json()["error"]["code"] == "API_KEY_IN_BROWSER"
    for path in ("/healthz", "/readyz"):
        assert org.client.get(path).status_code == 200, path


def test_every_page_renders_and_hides_the_provider_when_asked(org, browser):
    browser.sign_in(org.api_key)
    pages = ["/", "/setup", "/workspaces", "/domains", "/branding", "/tokens", "/keys",
             "/usage", "/audit"]
    for path in pages:
        resp = browser.get(path)
        assert resp.status_code == 200, (path, resp.text[-2000:])
        assert "Powered by" in resp.text
    assert "unconfigured" in browser.get("/domains/preview/status").text
    assert org.put("/api/v1/tenant/branding", json={
        "custom_app_name": "ClinicIQ Cloud", "powered_by_visible": False,
        "support_url": "https://help.cliniciq.example", "primary_color": "#0f766e"}
    ).status_code == 200
    for path in pages:
        resp = browser.get(path)
        body = resp.text.lower()
        assert "hostplane" not in body and "uvicorn" not in body and "fastapi" not in body, path
        assert not any("hostplane" in v.lower() for v in resp.headers.values()), path
        assert "ClinicIQ Cloud" in resp.text and "https://help.cliniciq.example" in resp.text


def test_a_browser_token_is_minted_shown_once_and_revoked(org, browser):
    workspace = org.workspace()
    browser.sign_in(org.api_key)
    browser.get("/tokens")
    resp = browser.post("/tokens", {"permissions": ["sandbox:read", "preview:read"],
                                    "workspace_id": workspace["id"], "ttl_seconds": "600"})
    assert resp.status_code == 201, resp.text[-3000:]
    token = resp.text.split('id="minted" readonly>')[1].split("<")[0]
    assert token.startswith("eyJ")
    listed = org.get("/api/v1/browser-tokens").json()["data"][-1]
    assert browser.post(f"/tokens/{listed['id']}/revoke").status_code == 303
    assert token not in browser.get("/tokens").text
    assert org.get("/api/v1/browser-tokens").json()["data"][-1]["status"] == "revoked"


def test_refused_input_is_an_error_page_worded_as_the_api(org, browser):
    browser.sign_in(org.api_key)
    bad = browser.get("/usage", params={"period": "forever"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "VALIDATION_FAILED" in bad.text and "period" in bad.text
    browser.get("/workspaces")
    api = org.post("/api/v1/workspaces", {"name": ""}).json()["error"]
    page = browser.post("/workspaces", {"name": ""})
    assert page.status_code == 422 and api["code"] in page.text


def test_versions_exact_domains_origins_and_keys(org, browser, zone):
    import uuid

    from tests.api.test_publish import archive
    from tests.api.test_spec_example import create_dns

    dep = org.post("/api/v1/deployments", {"name": "Program"}).json()["data"]
    for body in (b"<h1>v1</h1>", b"<h1>v2</h1>"):
        assert org.post(f"/api/v1/deployments/{dep['id']}/versions", params={"promote": "true"},
                        content=archive(("index.html", body)),
                        headers={"Content-Type": "application/gzip"}).status_code == 201
    browser.sign_in(org.api_key)
    page = browser.get(f"/deployments/{dep['id']}")
    assert "v2 (active)" in page.text and "Promote v1" in page.text
    assert browser.post(f"/deployments/{dep['id']}/rollback").status_code == 303
    assert "v1 (active)" in browser.get(f"/deployments/{dep['id']}").text
    listed = org.get(f"/api/v1/deployments/{dep['id']}/versions").json()["data"]
    assert browser.post(f"/deployments/{dep['id']}/versions/{listed[1]['id']}/promote"
                        ).status_code == 303
    assert org.get(f"/api/v1/deployments/{dep['id']}").json()["data"][
        "active_version_id"] == listed[1]["id"]

    # An exact domain: attached, its records shown, verified against the loopback DNS server.
    name = f"program.site{uuid.uuid4().hex[:10]}.com"
    browser.get("/domains")
    assert browser.post("/custom-domains", {"domain": name, "resource_type": "deployment",
                                            "resource_id": dep["id"]}).status_code == 303
    page = browser.get("/domains")
    assert name in page.text and "dns-records" in page.text
    record = org.get("/api/v1/custom-domains").json()["data"][0]
    assert browser.post(f"/custom-domains/{record['id']}/verify").status_code == 303
    assert "What to fix" in browser.get("/domains").text  # the doctor's explanation
    create_dns(zone, record["dns_records"])
    assert browser.post(f"/custom-domains/{record['id']}/verify").status_code == 303
    assert org.get(f"/api/v1/custom-domains/{record['id']}").json()["data"]["verified"] is True

    # Allowed origins, and an API key created (shown once) and revoked.
    browser.get("/tokens")
    assert browser.post("/tokens/origins", {"origins": "https://app.example.com\n"}
                        ).status_code == 303
    assert org.get("/api/v1/tenant/browser-origins").json()["origins"] == [
        "https://app.example.com"]
    browser.get("/keys")
    made = browser.post("/keys", {"name": "made in the console"})
    assert made.status_code == 201 and "msk_" in made.text
    key = next(k for k in org.get("/api/v1/api-keys").json()["data"]
               if k["name"] == "made in the console")
    assert browser.post(f"/keys/{key['id']}/revoke").status_code == 303
    assert org.get(f"/api/v1/api-keys/{key['id']}").json()["data"]["status"] == "revoked"


def test_a_narrow_key_sees_what_the_api_would_let_it(new_org, browser):
    reader = new_org(scopes=["organization:read", "workspace:read"])
    browser.sign_in(reader.api_key)
    assert browser.get("/workspaces").status_code == 200
    refused = browser.get("/domains")
    api = reader.get("/api/v1/tenant/preview-domain").json()["error"]
    assert refused.status_code == 403 and api["code"] in refused.text
    assert api["message"].replace("'", "&#39;") in refused.text
    assert browser.post("/workspaces", {"name": "not allowed"}).status_code == 403
