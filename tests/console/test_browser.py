"""The web console end to end (issue 17, done-when): real headless Chromium (Debian's, driven by
Playwright) against a real `hostplane serve` with its edge, the loopback DNS server answering
verification. One server and one browser for the module; skipped where either is missing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from hostplane.db.engine import Database
from hostplane.keys.service import create_key
from hostplane.tenancy.organizations import create_organization
from tests.api.test_spec_example import create_dns
from tests.conftest import _free_port, _sandbox_isolation
from tests.edge.helpers import wait_for
from tests.edge.test_serve import _start, _stop, _up

# One console-browser fixture per run: every test of this module runs on the same xdist worker.
pytestmark = pytest.mark.xdist_group("console-browser")

CHROMIUM = os.environ.get("HOSTPLANE_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
PHONE = {"width": 375, "height": 740}

sync_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no chromium at {CHROMIUM} (Debian package chromium)", allow_module_level=True)


def _account(database: Database, name: str | None) -> dict[str, Any]:
    """What `hostplane accounts create` makes, made in this process (a CLI start costs seconds)."""
    with database.transaction() as session:
        tenant = create_organization(session, name=name, email=None, now=datetime.now(UTC))
        _key, secret = create_key(session, tenant_id=tenant.id, name="console test")
    return {"tenant_id": tenant.id, "api_key": secret}


@pytest.fixture(scope="module")
def served(tmp_path_factory, dns) -> Iterator[dict[str, Any]]:
    """`hostplane serve` (API, console and edge in one process) on SQLite, with an organization
    that still needs setup and two that are set up."""
    data = tmp_path_factory.mktemp("console")
    api_port, edge_port = _free_port(), _free_port()
    env = {**os.environ, "HOSTPLANE_DATA_DIR": str(data),
           "HOSTPLANE_DATABASE_URL": f"sqlite:///{data / 'hostplane.db'}",
           "HOSTPLANE_EDGE_PORT": str(edge_port), "HOSTPLANE_PUBLIC_PORT": str(edge_port),
           "HOSTPLANE_SANDBOX_ISOLATION": _sandbox_isolation(data / "probe"),
           "HOSTPLANE_DNS_NAMESERVERS": dns[1],
           "HOSTPLANE_API_URL": f"http://127.0.0.1:{api_port}"}
    for name in ("HOSTPLANE_MANAGED_DOMAIN", "HOSTPLANE_PREVIEW_DOMAIN", "HOSTPLANE_PUBLIC_SCHEME"):
        env.pop(name, None)
    serve = _start(["serve", "--port", str(api_port), "--no-access-log"], env, data / "serve.log")
    try:
        wait_for(lambda: _up(f"http://127.0.0.1:{api_port}/healthz"), 60)
        base = f"http://127.0.0.1:{api_port}"
        database = Database(env["HOSTPLANE_DATABASE_URL"])
        orgs = {"new": _account(database, None), "other": _account(database, "Other Co"),
                "third": _account(database, "Third Co")}
        database.dispose()
        yield {"base": base, "orgs": orgs, "database": env["HOSTPLANE_DATABASE_URL"],
               "api": lambda who: httpx.Client(base_url=base + "/api/v1", timeout=30, headers={
                   "Authorization": f"Bearer {orgs[who]['api_key']}"})}
    finally:
        _stop(serve)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    made = context.new_page()
    yield made
    context.close()


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(base + "/")
    assert "/signin" in page.url
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wallpaper_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1920, 1080), (15, 118, 110)).save(out, "PNG")
    return out.getvalue()


def test_the_done_when_flow(served, page, zone):
    base, api = served["base"], served["api"]("new")
    sign_in(page, base, served["orgs"]["new"]["api_key"])

    # The setup gate: every page leads to /setup until the organization has its name.
    assert page.url.endswith("/setup")
    page.goto(base + "/workspaces")
    assert page.url.endswith("/setup")
    page.get_by_label("Organization name").fill("ClinicIQ")
    page.locator("#slug-value").filter(has_text="cliniciq").wait_for()  # the live preview
    shot(page, "setup")
    page.get_by_role("button", name="Save name").click()
    page.locator("#org-slug").filter(has_text="cliniciq").wait_for()
    assert page.locator(".checklist a[href='/workspaces']").count() >= 1
    shot(page, "checklist")

    # A workspace, a project, a sandbox.
    page.get_by_role("link", name="Workspaces").click()
    page.get_by_label("Name", exact=True).fill("Acme Dental")
    page.get_by_label("External workspace id (optional)").fill("acme-42")
    page.get_by_role("button", name="Create workspace").click()
    page.get_by_role("heading", name="Acme Dental").wait_for()
    workspace_id = page.url.rsplit("/", 1)[1]
    page.goto(base + "/workspaces?q=acme-42")
    assert page.get_by_role("link", name="Acme Dental").count() == 1
    shot(page, "workspaces")
    page.goto(f"{base}/workspaces/{workspace_id}")
    page.get_by_label("Name", exact=True).fill("Booking site")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Booking site").wait_for()
    page.get_by_label("Sandbox name").fill("web")
    page.get_by_role("button", name="Create sandbox").click()
    page.locator("#sandbox-state").filter(has_text="running").wait_for()
    sandbox_url = page.url

    # A command, its output streamed into the page.
    page.get_by_label("Command").fill("echo '<h1>preview-ok</h1>' > index.html; "
                                      "echo hello-console; python3 -c 'print(6*7)'")
    page.get_by_role("button", name="Run").click()
    page.locator("#exit").filter(has_text="exit code 0").wait_for()
    output = page.locator("#output").inner_text()
    assert "hello-console" in output and "42" in output
    shot(page, "command")

    # A dev server in the background; its preview opens through the edge.
    page.goto(sandbox_url)
    page.get_by_label("Start in the background").fill("python3 -m http.server 5173")
    page.get_by_role("button", name="Start").click()

    def port_link() -> Any:
        time.sleep(0.25)
        page.reload()
        return page.locator("a.port-url").count() > 0

    wait_for(port_link, 20)
    shot(page, "sandbox")
    preview = page.locator("a.port-url").first.get_attribute("href")
    assert ".sandbox.localhost:" in preview
    with page.context.expect_page() as opened:
        page.locator("a.port-url").first.click()
    tab = opened.value
    tab.wait_for_load_state()
    assert "preview-ok" in tab.content()
    tab.close()

    # The preview domain: its DNS records, then verified against the loopback DNS server.
    page.get_by_role("link", name="Domains").click()
    domain = f"preview.clinic{uuid.uuid4().hex[:8]}.com"
    page.get_by_role("textbox", name="Preview domain").fill(domain)
    page.get_by_role("button", name="Add preview domain").click()
    records = page.locator("#preview table.dns-records tbody tr")
    assert records.count() >= 2
    assert "pending" in page.locator("#preview .domain-status").inner_text()
    create_dns(zone, api.get("/tenant/preview-domain").json()["dns_records"])
    page.get_by_role("button", name="Verify preview domain now").click()
    page.locator("#preview .domain-status").filter(has_text="verified").wait_for()
    shot(page, "domains")

    # Branding, live in the preview, then on every page; the provider's name gone.
    page.get_by_role("link", name="Branding").click()
    page.get_by_label("App name").fill("ClinicIQ Cloud")
    page.locator("#brand-preview").filter(has_text="ClinicIQ Cloud").wait_for()
    page.get_by_label("Primary colour").fill("#0f766e")
    page.get_by_label("Support link").fill("https://help.cliniciq.example")
    page.get_by_label("Show “powered by” the platform").uncheck()
    page.get_by_role("button", name="Save branding").click()
    page.get_by_label("Desktop wallpaper (PNG or JPEG, at most 5 MB; 1920×1080 recommended)"
                      ).set_input_files({"name": "wallpaper.png", "mimeType": "image/png",
                                         "buffer": wallpaper_png()})
    page.get_by_role("button", name="Upload wallpaper").click()
    page.locator("#wallpaper-link").wait_for()
    assert "1920×1080" in page.locator("#wallpaper-link").inner_text()
    assert page.locator("header .app-name").inner_text() == "ClinicIQ Cloud"
    assert "hostplane" not in page.content().lower()
    assert page.get_by_role("link", name="Support").get_attribute("href") == (
        "https://help.cliniciq.example")
    wallpaper = api.get("/tenant/branding").json()["wallpaper"]["url"]
    assert httpx.get(wallpaper).status_code == 200
    shot(page, "branding")
    response = page.goto(base + "/workspaces")
    assert not any("hostplane" in f"{k}{v}".lower() or k == "server"
                   for k, v in response.headers.items())

    # A browser token: minted with the permissions picked, used, revoked.
    page.get_by_role("link", name="Browser tokens").click()
    page.get_by_label("deployment:read").check()
    page.get_by_label("Workspace id (optional)").fill(workspace_id)
    page.get_by_role("button", name="Mint token").click()
    token = page.get_by_label("Token").input_value()
    assert token.startswith("eyJ")
    as_token = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/api/v1/sandboxes", headers=as_token).status_code == 200
    shot(page, "tokens")
    page.goto(base + "/tokens")
    page.get_by_role("button", name="Revoke").first.click()
    page.locator(".token-status").filter(has_text="revoked").first.wait_for()
    assert httpx.get(f"{base}/api/v1/sandboxes", headers=as_token).status_code == 401

    # Sign out: the session is over.
    page.get_by_role("button", name="Sign out").click()
    assert "/signin" in page.url
    page.goto(base + "/workspaces")
    assert "/signin" in page.url


def test_refusals_csrf_expiry_and_other_organizations(served, page):
    base = served["base"]
    third = served["api"]("third")
    theirs = third.post("/workspaces", json={"name": "Not yours"}).json()
    sign_in(page, base, served["orgs"]["other"]["api_key"])
    cookie = next(c for c in page.context.cookies() if c["name"] == "console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # http
    assert served["orgs"]["other"]["api_key"] not in json.dumps(page.context.cookies())

    # Reads need no script: the same session, JavaScript off.
    plain = page.context.browser.new_context(java_script_enabled=False)
    plain.add_cookies([cookie])
    try:
        reader = plain.new_page()
        for path, heading in (("/workspaces", "Workspaces"), ("/domains", "Domains"),
                              ("/audit", "Audit log")):
            reader.goto(base + path)
            assert reader.get_by_role("heading", name=heading, exact=True).count() == 1
    finally:
        plain.close()

    # Another organization's ids: 404 pages, with the API's words and a request id.
    response = page.goto(f"{base}/workspaces/{theirs['id']}")
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").count() == 1
    assert "Request id" in page.content() and "Not yours" not in page.content()

    # A form whose token was tampered with is refused.
    page.goto(base + "/workspaces")
    page.locator("form[action='/workspaces'] input[name=csrf]").evaluate(
        "el => el.value = 'forged'")
    page.get_by_label("Name", exact=True).fill("forged")
    page.get_by_role("button", name="Create workspace").click()
    assert "CSRF_FAILED" in page.content()
    assert "forged" not in page.goto(base + "/workspaces").text()

    # An idle session is over.
    engine = create_engine(served["database"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE console_sessions SET last_seen_at = :then WHERE token_hash = :h"),
                     {"then": datetime.now(UTC) - timedelta(hours=2),
                      "h": hashlib.sha256(cookie["value"].encode()).hexdigest()})
    engine.dispose()
    page.goto(base + "/workspaces")
    assert "/signin" in page.url


PAGES = ["/", "/setup", "/workspaces", "/workspaces/{workspace}", "/projects/{project}",
         "/sandboxes/{sandbox}", "/domains", "/branding", "/tokens", "/keys", "/usage", "/audit",
         "/workspaces/00000000-0000-0000-0000-000000000000"]


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in found if v.get("impact") in ("serious", "critical")]


def test_every_page_is_accessible_and_fits_a_phone(served, chromium):
    # axe is injected as an inline script, which the console's own CSP rightly refuses.
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        _accessible_and_fits_a_phone(served, context.new_page())
    finally:
        context.close()


def _accessible_and_fits_a_phone(served: dict[str, Any], page: Any) -> None:
    base, api = served["base"], served["api"]("other")
    workspace = api.post("/workspaces", json={"name": "Axe", "external_workspace_id": "axe"}
                         ).json()
    sandbox = api.post("/sandboxes", json={"workspace_id": workspace["id"]}).json()["data"]
    api.put("/tenant/deployment-domain", json={"deployment_domain": "apps.axe-check.com"})
    ids = {"workspace": workspace["id"], "project": sandbox["project_id"],
           "sandbox": sandbox["id"]}
    page.goto(base + "/signin")
    problems = {"/signin": _axe(page)}
    sign_in(page, base, served["orgs"]["other"]["api_key"])
    for path in PAGES:
        page.goto(base + path.format(**ids))
        problems[path] = _axe(page)
    page.goto(f"{base}/sandboxes/{sandbox['id']}")
    page.get_by_label("Command").fill("echo axe")
    page.get_by_role("button", name="Run").click()
    page.locator("#exit").wait_for()
    problems["exec"] = _axe(page)
    assert not any(problems.values()), {p: [(v["id"], v["impact"], v["help"]) for v in found]
                                        for p, found in problems.items() if found}

    page.set_viewport_size(PHONE)
    for path in PAGES:
        page.goto(base + path.format(**ids))
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], (path, wide)
        if path == "/sandboxes/{sandbox}":
            shot(page, "phone")
    shot(page, "not-found")
    # Keyboard: the skip link comes first and moves focus to the page's content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
