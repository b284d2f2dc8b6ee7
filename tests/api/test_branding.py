"""Tenant branding (spec §8, contract §14): the spec's flat body, the official clients' wrapped
and Go bodies, merge and reset, validation, and wallpaper/logo uploads checked by content."""

from __future__ import annotations

from io import BytesIO
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

SPEC_BODY = {
    "custom_app_name": "ClinicIQ",
    "custom_logo_url": "https://cliniciq.com/logo-dark.png",
    "support_url": "https://help.cliniciq.com",
    "desktop_wallpaper_url": "https://cliniciq.com/wallpaper.png",
    "powered_by_visible": False,
}


def image(fmt: str, size=(1920, 1080), pad: int = 0) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (15, 118, 110)).save(out, format=fmt)
    return out.getvalue() + b"\0" * pad


def test_the_spec_body_round_trips(org):
    put = org.put("/api/v1/tenant/branding", SPEC_BODY)
    assert put.status_code == 200, put.text
    body = put.json()
    for key, value in SPEC_BODY.items():
        assert body[key] == value, key
    # Every alias, in one bare object.
    assert body["product_name"] == body["app_name"] == "ClinicIQ"
    assert body["logo_url"] == SPEC_BODY["custom_logo_url"]
    assert body["wallpaper"]["status"] == "fetching"  # the worker fetches and checks it
    assert org.get("/api/v1/tenant/branding").json() == body
    assert org.get("/api/v1/settings/branding").json() == body


def test_the_clients_bodies_and_put_is_a_merge(org):
    wrapped = {"branding": {"product_name": "ClinicIQ", "logo_url": "https://cdn.cliniciq.com/l.png",
                            "support_url": "https://help.cliniciq.com",
                            "support_email": "help@cliniciq.com", "primary_color": "#0F766E",
                            "background_color": "#fff"}}
    body = org.put("/api/v1/tenant/branding", wrapped).json()
    assert (body["custom_app_name"], body["primary_color"]) == ("ClinicIQ", "#0f766e")
    assert body["powered_by_visible"] is True  # the default
    go = {"app_name": "ClinicIQ Pro", "favicon_url": "https://cdn.cliniciq.com/f.ico",
          "custom_css": ".btn { color: #0f766e; background: url(data:image/png;base64,AAAA) }"}
    body = org.put("/api/v1/settings/branding", go).json()
    assert body["product_name"] == "ClinicIQ Pro" and body["favicon_url"].endswith("f.ico")
    assert body["support_email"] == "help@cliniciq.com"  # untouched by the second PUT
    assert org.put("/api/v1/tenant/branding", {"support_email": None}).json()[
        "support_email"] is None  # null clears one field
    # Fields beside the wrapper count too; a GET body PUT back with one alias edited works.
    both = org.put("/api/v1/tenant/branding", {"branding": {"product_name": "W"},
                                               "powered_by_visible": False}).json()
    assert (both["product_name"], both["powered_by_visible"]) == ("W", False)
    edited = {**both, "product_name": "W2"}
    again = org.put("/api/v1/tenant/branding", edited)
    assert again.status_code == 200 and again.json()["app_name"] == "W2", again.text
    reset = org.delete("/api/v1/tenant/branding")
    assert reset.status_code == 200 and reset.json()["product_name"] is None
    assert org.get("/api/v1/tenant/branding").json()["powered_by_visible"] is True


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"custom_logo_url": "http://cliniciq.com/logo.png"}, "custom_logo_url", "INVALID_URL"),
    ({"support_url": "help.cliniciq.com"}, "support_url", "INVALID_URL"),
    ({"primary_color": "teal"}, "primary_color", "INVALID_COLOR"),
    ({"support_email": "nobody"}, "support_email", "INVALID_EMAIL"),
    ({"custom_css": "@import url(https://evil.example/x.css);"}, "custom_css",
     "CSS_LOADS_REMOTE_CONTENT"),
    ({"custom_css": "body { background: url( 'https://evil.example/p.png' ) }"}, "custom_css",
     "CSS_LOADS_REMOTE_CONTENT"),
    ({"custom_css": "body { background: u\\72l(https://evil.example) }"}, "custom_css",
     "CSS_LOADS_REMOTE_CONTENT"),
    ({"custom_css": "a{}" * 20_000}, "custom_css", "CSS_TOO_LARGE"),
    # Deep nesting of every bracket kind was a RecursionError (500) in the parser and the walk.
    ({"custom_css": "a{" + "(" * 5000 + ")" * 5000 + "}"}, "custom_css", "CSS_TOO_DEEP"),
    ({"custom_css": "@media x{" * 2000 + "}" * 2000}, "custom_css", "CSS_TOO_DEEP"),
    ({"custom_css": "a{b:f(" + "[" * 40 + "]" * 40 + ")}"}, "custom_css", "CSS_TOO_DEEP"),
    # Comments and strings that a regular expression would misread (found by review).
    ({"custom_css": 'a{content:"/*"} b{background:url(https://evil.example/x.png)} /**/'},
     "custom_css", "CSS_LOADS_REMOTE_CONTENT"),
    ({"custom_css": "a{background:url('data:,a\n);background:url(https://evil.example/x);x:')\n}"},
     "custom_css", "CSS_LOADS_REMOTE_CONTENT"),
    ({"custom_css": 'a{content:"/*"}</style><script>alert(1)</script>/**/'}, "custom_css",
     "CSS_LOADS_REMOTE_CONTENT"),
    ({"custom_css": "a{background:image-set('https://evil.example/a.png' 1x)}"}, "custom_css",
     "CSS_LOADS_REMOTE_CONTENT"),
    ({"logo_url": "https://x.example/a\u0000b"}, "logo_url", "VALIDATION_FAILED"),
    ({"logo_url": "https://x.example:99999/a.png"}, "logo_url", "INVALID_URL"),
    ({"product_name": "A", "app_name": "B"}, "app_name", "ALIAS_CONFLICT"),
    ({"branding": {"logo_url": "ftp://x.example/l.png"}}, "logo_url", "INVALID_URL"),
])
def test_bad_values_are_refused_naming_the_field(org, body, field, code):
    org.put("/api/v1/tenant/branding", {"product_name": "Kept"})
    resp = org.put("/api/v1/tenant/branding", body)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert (error["code"], error["details"]["field"]) == (code, field)
    assert org.get("/api/v1/tenant/branding").json()["product_name"] == "Kept"  # nothing half-written


def test_a_wallpaper_upload_is_checked_stored_and_served(org, base_url):
    png = image("PNG")
    up = org.client.put("/api/v1/tenant/branding/wallpaper", content=png,
                        headers={"Content-Type": "image/png"})
    assert up.status_code == 200, up.text
    wallpaper = up.json()["wallpaper"]
    assert (wallpaper["width"], wallpaper["height"], wallpaper["warnings"]) == (1920, 1080, [])
    assert up.json()["desktop_wallpaper_url"] == wallpaper["url"]
    assert wallpaper["url"].startswith("http://127.0.0.1:8080/assets/branding/")  # API URL
    # Public: desktops load it without a credential.
    served = httpx.get(base_url + urlsplit(wallpaper["url"]).path)
    assert served.status_code == 200 and served.content == png
    assert served.headers["content-type"] == "image/png"

    small = org.client.put("/api/v1/tenant/branding/wallpaper",
                           files={"file": ("w.jpg", image("JPEG", (800, 600)), "image/jpeg")})
    assert small.status_code == 200, small.text
    assert small.json()["wallpaper"]["content_type"] == "image/jpeg"
    assert "1920×1080 is recommended" in small.json()["wallpaper"]["warnings"][0]


def test_replacing_or_clearing_an_image_removes_the_old_one(org, base_url):
    first = org.client.put("/api/v1/tenant/branding/wallpaper", content=image("PNG"),
                           headers={"Content-Type": "image/png"}).json()["wallpaper"]["url"]
    second = org.client.put("/api/v1/tenant/branding/wallpaper",
                            content=image("PNG", (1280, 720)),
                            headers={"Content-Type": "image/png"}).json()["wallpaper"]["url"]
    assert first != second
    assert httpx.get(base_url + urlsplit(first).path).status_code == 404  # deleted
    assert httpx.get(base_url + urlsplit(second).path).status_code == 200
    cleared = org.put("/api/v1/tenant/branding", {"desktop_wallpaper_url": None}).json()
    assert cleared["desktop_wallpaper_url"] is None and cleared["wallpaper"] is None


def test_a_truncated_or_enormous_image_is_refused(org):
    jpeg = image("JPEG", (2000, 2000))
    cut = org.client.put("/api/v1/tenant/branding/logo", content=jpeg[: len(jpeg) // 3],
                         headers={"Content-Type": "image/jpeg"})
    assert cut.status_code == 422 and cut.json()["error"]["code"] == "UNSUPPORTED_IMAGE"
    out = BytesIO()
    Image.new("1", (7000, 7000)).save(out, format="PNG")  # tiny file, 49 M pixels
    bomb = org.client.put("/api/v1/tenant/branding/wallpaper", content=out.getvalue(),
                          headers={"Content-Type": "image/png"})
    assert bomb.status_code == 422 and bomb.json()["error"]["code"] == "IMAGE_TOO_LARGE"


def test_a_logo_upload_becomes_the_logo_url(org):
    resp = org.client.put("/api/v1/tenant/branding/logo",
                          files={"file": ("logo.png", image("PNG", (256, 256)), "image/png")})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["logo_url"] == body["custom_logo_url"] == body["logo"]["url"]
    assert body["logo"]["warnings"] == []


def test_a_gif_named_png_is_refused(org):
    gif = image("GIF", (64, 64))
    resp = org.client.put("/api/v1/tenant/branding/wallpaper",
                          files={"file": ("wallpaper.png", gif, "image/png")})
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "UNSUPPORTED_IMAGE" and "GIF" in error["message"]
    garbage = org.client.put("/api/v1/tenant/branding/logo", content=b"not an image",
                             headers={"Content-Type": "image/png"})
    assert garbage.status_code == 422


@pytest.mark.parametrize("multipart", [False, True])
def test_six_megabytes_is_413(org, multipart):
    big = image("PNG", (64, 64), pad=6 * 1024 * 1024)
    if multipart:
        resp = org.client.put("/api/v1/tenant/branding/wallpaper",
                              files={"file": ("w.png", big, "image/png")})
    else:
        resp = org.client.put("/api/v1/tenant/branding/wallpaper", content=big,
                              headers={"Content-Type": "image/png"})
    assert resp.status_code == 413, resp.text
    just_over = image("PNG", (64, 64), pad=5 * 1024 * 1024)
    resp = org.client.put("/api/v1/tenant/branding/wallpaper", content=just_over,
                          headers={"Content-Type": "image/png"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "ASSET_TOO_LARGE"
    assert org.get("/api/v1/tenant/branding").json()["wallpaper"] is None


def test_a_browser_token_reads_branding_but_cannot_change_it(org, base_url):
    org.put("/api/v1/tenant/branding", {"product_name": "ClinicIQ"})
    ws = org.workspace()
    token = org.post("/api/v1/browser-tokens", {"workspace_id": ws["id"],
                                                "permissions": ["branding:read"]}).json()
    headers = {"Authorization": f"Bearer {token['data']['token']}"}
    with httpx.Client(base_url=base_url, headers=headers) as browser:
        assert browser.get("/api/v1/tenant/branding").json()["product_name"] == "ClinicIQ"
        assert browser.put("/api/v1/tenant/branding", json={"product_name": "X"}).status_code == 403


@pytest.fixture
def image_server():
    """A real HTTP server on loopback serving whatever the test puts in `files`."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files: dict[str, tuple[int, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            status, body = files.get(self.path, (404, b""))
            self.send_response(status)
            if status in (301, 302):
                self.send_header("Location", body.decode())
                body = b""
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()


def fetch(container, org, allow_private=True):
    from hostplane.api.container import Container
    from hostplane.branding.fetch import fetch_wallpapers

    settings = container.settings.model_copy(update={"asset_fetch_allow_private": allow_private})
    worker = Container(settings=settings, database=container.database, clock=container.clock,
                       driver=container.driver, resolver=container.resolver)
    assert fetch_wallpapers(worker, tenant_ids=[org.tenant_id]) == 1
    return org.get("/api/v1/tenant/branding").json()


def test_a_wallpaper_url_is_fetched_and_checked_by_the_worker(org, container, image_server):
    base, files = image_server
    files["/w.png"] = (200, image("PNG"))
    files["/moved"] = (302, f"{base}/w.png".encode())
    org.put("/api/v1/tenant/branding", {"desktop_wallpaper_url": f"{base}/moved"})
    body = fetch(container, org)
    assert body["wallpaper"]["status"] == "ready", body
    assert (body["wallpaper"]["width"], body["wallpaper"]["height"]) == (1920, 1080)
    assert body["desktop_wallpaper_url"] == f"{base}/moved"  # what the owner set


@pytest.mark.parametrize(("served", "code"), [
    ((200, image("GIF", (8, 8))), "UNSUPPORTED_IMAGE"),
    ((200, b"\x89PNG" + b"\0" * (5 * 1024 * 1024 + 10)), "ASSET_TOO_LARGE"),
    ((404, b""), "WALLPAPER_FETCH_FAILED"),
])
def test_a_bad_wallpaper_url_is_recorded_as_failed(org, container, image_server, served, code):
    base, files = image_server
    files["/w.png"] = served
    org.put("/api/v1/tenant/branding", {"desktop_wallpaper_url": f"{base}/w.png"})
    body = fetch(container, org)
    assert body["wallpaper"]["status"] == "failed"
    assert body["wallpaper"]["error"]["code"] == code


def test_a_fetched_wallpaper_past_the_storage_quota_is_recorded_as_failed(org, container,
                                                                          image_server):
    from hostplane.api.container import Container
    from hostplane.branding.fetch import fetch_wallpapers

    base, files = image_server
    files["/w.png"] = (200, image("PNG"))
    assert org.post("/api/v1/sandboxes", {"disk_mb": 256}).status_code == 201  # the quota, all
    org.put("/api/v1/tenant/branding", {"desktop_wallpaper_url": f"{base}/w.png"})
    settings = container.settings.model_copy(update={"asset_fetch_allow_private": True,
                                                     "storage_quota_mb": 256})
    worker = Container(settings=settings, database=container.database, clock=container.clock,
                       driver=container.driver, resolver=container.resolver)
    fetch_wallpapers(worker, tenant_ids=[org.tenant_id])
    wallpaper = org.get("/api/v1/tenant/branding").json()["wallpaper"]
    assert (wallpaper["status"], wallpaper["error"]["code"]) == ("failed",
                                                                 "STORAGE_QUOTA_EXCEEDED")


def test_one_unusable_url_does_not_stop_the_others(org, other_org, container, image_server):
    from hostplane.branding.fetch import fetch_wallpapers

    base, files = image_server
    files["/w.png"] = (200, image("PNG"))
    with container.database.transaction() as session:  # past the API's checks: the worst case
        from hostplane.branding.models import Branding
        session.add(Branding(tenant_id=org.tenant_id, powered_by_visible=True,
                             updated_at=container.clock.now(),
                             desktop_wallpaper_url="https://bad.example:99999/x.png",
                             assets={"wallpaper": {"source": "url", "status": "fetching",
                                                   "source_url": "https://bad.example:99999/x"}}))
    other_org.put("/api/v1/tenant/branding", {"desktop_wallpaper_url": f"{base}/w.png"})
    fetch(container, other_org)  # allowed to reach loopback
    settings = container.settings.model_copy(update={"asset_fetch_allow_private": True})
    from hostplane.api.container import Container
    worker = Container(settings=settings, database=container.database, clock=container.clock,
                       driver=container.driver, resolver=container.resolver)
    fetch_wallpapers(worker, tenant_ids=[org.tenant_id])
    assert org.get("/api/v1/tenant/branding").json()["wallpaper"]["status"] == "failed"
    assert other_org.get("/api/v1/tenant/branding").json()["wallpaper"]["status"] == "ready"


def test_a_private_address_is_refused_unless_the_operator_allows_it(org, container,
                                                                     image_server):
    base, files = image_server
    files["/w.png"] = (200, image("PNG"))
    org.put("/api/v1/tenant/branding", {"desktop_wallpaper_url": f"{base}/w.png"})
    body = fetch(container, org, allow_private=False)
    assert body["wallpaper"]["error"]["code"] == "WALLPAPER_URL_PRIVATE"
