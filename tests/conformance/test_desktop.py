"""Computers with real desktops (issue 16), driven by the unchanged official `miosa` client: one
computer for the whole module (a desktop costs a second or two to boot and ~100 MB), on SQLite
only (the desktop does not depend on the database; the PostgreSQL run would boot a second one)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image, ImageChops

miosa = pytest.importorskip("miosa")
from miosa import errors as miosa_errors  # noqa: E402

from tests.factories import make_org  # noqa: E402

# One desktop fixture per run: every test of this module runs on the same xdist worker.
pytestmark = pytest.mark.xdist_group("desktop")

WALLPAPER = (23, 111, 187)  # the organization's wallpaper: one colour, easy to find


def _png(color: tuple[int, int, int], size: tuple[int, int] = (1920, 1080)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def desk(container: Any, base_url: str, backend: str) -> Iterator[dict[str, Any]]:
    if backend == "sqlite":
        pytest.skip("desktops are tested once, on PostgreSQL (its autocommitting readers are "
                    "the stricter case for a GET that settles a booting computer)")
    from hostplane.compute.port import DESKTOP

    assert container.driver is not None
    container.driver.desktops = True  # off for the rest of the suite (tests/conftest.py)
    if DESKTOP not in container.driver.capabilities():
        container.driver.desktops = False
        pytest.skip("desktops need bubblewrap (hostplane as root); CI has it")
    org = make_org(container, base_url)
    org.client.put("/api/v1/tenant/branding", json={"custom_app_name": "ClinicIQ",
                                                    "powered_by_visible": False})
    resp = org.client.put("/api/v1/tenant/branding/wallpaper", content=_png(WALLPAPER),
                          headers={"content-type": "image/png"})
    assert resp.status_code == 200, resp.text
    client = miosa.Miosa(api_key=org.api_key, base_url=base_url)
    started = time.monotonic()
    try:
        computer = client.computers.create("desk")
        computer.wait_until_ready(timeout=60, poll_interval=0.2)
    except BaseException:
        container.driver.desktops = False
        raise
    ready = time.monotonic() - started
    try:
        yield {"org": org, "client": client, "computer": computer, "ready_seconds": ready}
    finally:
        computer.destroy()
        container.driver.desktops = False
        org.client.close()


def _shot(computer: Any) -> Image.Image:
    data = computer.screenshot()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_desktop_boots_and_wears_the_wallpaper(desk):
    computer = desk["computer"]
    assert computer.status == "running"
    assert desk["ready_seconds"] < 30
    size = computer.get_screen_size()
    assert (size.width, size.height) == (1920, 1080)
    shot = _shot(computer)
    assert shot.size == (1920, 1080)
    assert shot.getpixel((5, 5)) == WALLPAPER
    assert computer.wait_for_desktop(timeout=5)["url"]


def test_type_into_a_terminal_changes_the_screen(desk):
    computer = desk["computer"]
    computer.launch("terminal")
    deadline = time.monotonic() + 30  # the suite's machine may be busy
    while not [w for w in computer.windows() if w.width and w.width > 100]:
        assert time.monotonic() < deadline, "the terminal did not open"
        time.sleep(0.1)
    window = [w for w in computer.windows() if w.width and w.width > 100][0]
    middle = (window.x + window.width // 2, window.y + window.height // 2)
    result = computer.act("left_click", {"coordinate": list(middle)})
    assert result.ok
    before = _shot(computer).crop((window.x, window.y, window.x + window.width,
                                   window.y + window.height))
    assert computer.act("type", {"text": "echo hostplane-desktop-works"}).ok
    assert computer.act("key", {"text": "Return"}).ok
    time.sleep(0.3)
    after = _shot(computer).crop((window.x, window.y, window.x + window.width,
                                  window.y + window.height))
    changed = sum(ImageChops.difference(before, after).convert("L").point(
        lambda v: 255 if v else 0).histogram()[255:])
    assert changed > 200  # two lines of text appeared
    cursor = computer.act("cursor_position")
    assert cursor.coordinates == list(middle)


def test_every_desktop_action_of_the_client(desk):
    computer = desk["computer"]
    for action, params in [
        ("mouse_move", {"coordinate": [300, 300]}),
        ("right_click", {"coordinate": [300, 300]}),
        ("middle_click", {"coordinate": [300, 300]}),
        ("double_click", {"coordinate": [10, 10]}),
        ("triple_click", {"coordinate": [10, 10]}),
        ("left_click_drag", {"start_coordinate": [400, 400], "coordinate": [500, 500]}),
        ("left_mouse_down", {"coordinate": [20, 20]}),
        ("left_mouse_up", {"coordinate": [20, 20]}),
        ("scroll", {"coordinate": [400, 400], "scroll_direction": "down", "scroll_amount": 2}),
        ("key", {"text": "ctrl+shift+Escape"}),
        ("hold_key", {"text": "shift", "duration": 0.1}),
        ("wait", {"duration": 0.05}),
        ("zoom", {"region": [0, 0, 200, 100]}),
        ("screenshot", {}),
    ]:
        assert computer.act(action, params).ok, action
    assert computer.act("key", {"text": "Escape"}).ok  # close a menu the clicks opened
    computer.set_clipboard("copied text")
    assert computer.get_clipboard() == "copied text"
    env = computer.get_desktop_environment()
    assert env.session_type == "x11" and env.resolution == "1920x1080"
    assert computer.hotkey("ctrl", "c").success
    region = Image.open(io.BytesIO(computer.screenshot_region(0, 0, 64, 32)))
    assert region.size == (64, 32)


def test_anthropic_toolset_drives_it(desk):
    from miosa.computer_use import MiosaComputerToolset

    toolset = MiosaComputerToolset(desk["computer"], confirm=lambda call: True)
    results = toolset.execute_batch([
        {"type": "tool_use", "id": "t1", "name": "mouse_move", "toolset_name": "computer",
         "input": {"coordinate": [120, 130]}},
        {"type": "tool_use", "id": "t2", "name": "cursor_position", "toolset_name": "computer",
         "input": {}},
        {"type": "tool_use", "id": "t3", "name": "screenshot", "toolset_name": "computer",
         "input": {}},
    ])
    assert not any(r.get("is_error") for r in results), results
    assert "X=120, Y=130" in str(results[1])


def test_bad_input_is_refused_with_the_envelope(desk):
    computer, org = desk["computer"], desk["org"]
    with pytest.raises(miosa_errors.ValidationError):
        computer.click(5000, 10)
    resp = org.client.post(f"/api/v1/computers/{computer.id}/desktop/click",
                           json={"x": 5000, "y": 10})
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["details"]["field"] == "x" and "1920" in error["details"]["rule"]
    resp = org.client.post(f"/api/v1/computers/{computer.id}/desktop/key",
                           json={"key": "ctrl+nosuchkey"})
    assert resp.json()["error"]["code"] == "UNKNOWN_KEY"
    resp = org.client.post(f"/api/v1/computers/{computer.id}/desktop/type",
                           json={"text": "x" * 10_001})
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "text"


def test_another_organization_gets_404_everywhere(desk, other_org):
    computer = desk["computer"]
    for method, path in [("GET", "desktop/screenshot"), ("POST", "desktop/click"),
                         ("GET", "desktop/windows"), ("POST", "start"), ("POST", "stop"),
                         ("GET", "embed"), ("GET", "viewer-password")]:
        resp = other_org.client.request(method, f"/api/v1/computers/{computer.id}/{path}",
                                        json={"x": 1, "y": 1} if method == "POST" else None)
        assert resp.status_code == 404, (path, resp.text)


# The viewer, through the edge, in real headless Chromium (Debian's).


def _grant_token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["preview_token"][0]


@pytest.fixture(scope="module")
def chromium(desk, edge_url) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    host = urlsplit(desk["computer"].data.desktop_url).hostname
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", f"--host-resolver-rules=MAP {host} 127.0.0.1"])
        yield browser, host, f"http://{host}:{urlsplit(edge_url).port}"
        browser.close()


def _open(chromium, token: str) -> Any:
    browser, host, base = chromium
    context = browser.new_context()
    # The edge's token-for-cookie redirect sets a Secure cookie (the suite's public scheme is
    # https); this test edge speaks plain HTTP, so the cookie is handed to the browser directly.
    context.add_cookies([{"name": "preview_token", "value": token, "domain": host,
                          "path": "/"}])
    page = context.new_page()
    page.goto(f"{base}/desktop/index.html")
    page.wait_for_selector("body[data-state=connected]", timeout=30_000)
    return page


def test_viewer_needs_a_grant(desk, edge_url):
    host = urlsplit(desk["computer"].data.desktop_url).hostname
    with httpx.Client(base_url=edge_url, headers={"host": host, "accept": "text/html"}) as http:
        refused = http.get("/desktop/index.html")
        assert refused.status_code == 401
        assert "noVNC" not in refused.text and "hostplane" not in refused.text
        grant = desk["computer"].viewer_url(ttl_seconds=60)
        assert grant.view_only is False and grant.expires_at
        swapped = http.get(f"/desktop/index.html?preview_token={_grant_token(grant.url)}")
        assert swapped.status_code == 303 and "preview_token" in swapped.headers["set-cookie"]
        other = desk["org"].client.get(f"/api/v1/computers/{desk['computer'].id}/embed",
                                       params={"ttl": 5})
        assert other.status_code == 422


def test_viewer_renders_the_desktop_in_chromium(desk, chromium):
    computer = desk["computer"]
    page = _open(chromium, _grant_token(computer.viewer_url(ttl_seconds=120).url))
    assert page.title() == "ClinicIQ"
    assert "noVNC" not in page.content() and "hostplane" not in page.content()
    page.wait_for_function("""() => { const c = document.querySelector('canvas');
        if (!c || c.width < 100) return false;
        const d = c.getContext('2d').getImageData(5, 5, 1, 1).data;
        return d[0] === %d && d[1] === %d && d[2] === %d; }""" % WALLPAPER, timeout=30_000)
    # An interactive grant drives the desktop: the pointer moves where the viewer sends it.
    page.evaluate("""() => { const c = document.querySelector('canvas');
        const r = c.getBoundingClientRect(); window.at = [r.left, r.top, r.width / c.width]; }""")
    left, top, scale = page.evaluate("window.at")
    page.mouse.move(left + 700 * scale, top + 600 * scale)
    deadline = time.monotonic() + 5
    while abs(computer.cursor().x - 700) > 2 or abs(computer.cursor().y - 600) > 2:
        assert time.monotonic() < deadline, computer.cursor()
        time.sleep(0.1)
    page.context.close()


def test_view_only_grant_cannot_send_input(desk, chromium):
    computer = desk["computer"]
    computer.move_cursor(50, 50)
    grant = computer.viewer_url(ttl_seconds=120, view_only=True)
    assert grant.view_only is True
    page = _open(chromium, _grant_token(grant.url))
    # Even a page that turns its own view-only switch off reaches only the view-only server.
    page.evaluate("window.viewer.viewOnly = false")
    page.evaluate("""() => { const c = document.querySelector('canvas');
        const r = c.getBoundingClientRect(); window.at = [r.left, r.top, r.width / c.width]; }""")
    left, top, scale = page.evaluate("window.at")
    page.mouse.move(left + 900 * scale, top + 500 * scale)
    page.mouse.click(left + 900 * scale, top + 500 * scale)
    time.sleep(1.0)
    assert (computer.cursor().x, computer.cursor().y) == (50, 50)
    page.context.close()


def test_revoking_a_grant_closes_the_viewer(desk, chromium):
    computer, org = desk["computer"], desk["org"]
    grant = org.client.get(f"/api/v1/computers/{computer.id}/embed").json()
    page = _open(chromium, _grant_token(grant["url"]))
    started = time.monotonic()
    assert org.client.delete(f"/api/v1/browser-tokens/{grant['grant_id']}").status_code == 200
    page.wait_for_selector("body[data-state=disconnected]", timeout=5_000)
    assert time.monotonic() - started < 5
    page.context.close()
    # The viewer password: rotating revokes every grant and gives a new one once.
    assert computer.viewer_password()["set"] is False
    rotated = computer.rotate_viewer_password()
    assert rotated["password"] and computer.viewer_password()["set"] is True


def test_y_a_branding_change_reaches_the_running_desktop(desk):
    computer, org = desk["computer"], desk["org"]
    new = (201, 64, 32)
    resp = org.client.put("/api/v1/tenant/branding/wallpaper", content=_png(new, (800, 600)),
                          headers={"content-type": "image/png"})
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 20
    while _shot(computer).getpixel((5, 5)) != new:
        assert time.monotonic() < deadline, "the desktop kept its old wallpaper"
        time.sleep(0.2)
    global WALLPAPER
    WALLPAPER = new  # what the restarted desktop must wear


def test_z_stop_start_restart(desk):
    computer = desk["computer"]
    assert computer.stop().status == "stopped"
    assert computer.refresh().status == "stopped"
    with pytest.raises(miosa_errors.MiosaError):
        computer.screenshot()
    assert computer.start().success
    computer.wait_until_ready(timeout=60, poll_interval=0.2)
    assert _shot(computer).getpixel((5, 5)) == WALLPAPER
    assert computer.restart().success
    computer.wait_until_ready(timeout=60, poll_interval=0.2)
    assert computer.get_screen_size().width == 1920
