"""The edge's pure parts: reading hosts back with the URL engine's own shapes (a round trip for
every URL the engine builds), canonical Host headers, byte ranges and forwarded headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane.edge.forwarding import response_headers, upstream_headers, without_preview_cookies
from hostplane.edge.access import local_location, same_origin
from hostplane.edge.routes import canonical_host
from hostplane.edge.static import byte_range
from hostplane.urls import (
    OrganizationDomains,
    Platform,
    deployment_urls,
    fallback_host,
    preview_host,
    read_host,
)

PLATFORM = Platform("miosa.app", "miosa.ai", "computer.miosa.ai")
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(slug=LABEL, port=st.integers(1, 65535), base=st.sampled_from(
    ["miosa.ai", "cliniciq.dev", "preview.cliniciq.com"]))
def test_every_preview_host_reads_back(slug, port, base):
    host = preview_host(base, slug, port)
    assert any(r.layer == "preview" and (r.slug, r.port, r.base) == (slug, port, base)
               for r in read_host(PLATFORM, host))


@given(deployment=LABEL, org=LABEL)
def test_every_fallback_host_reads_back(deployment, org):
    host = fallback_host(PLATFORM, org, deployment)
    assert any(r.layer == "deployment" and (r.slug, r.org_slug) == (deployment, org)
               for r in read_host(PLATFORM, host))
    url = deployment_urls(PLATFORM, OrganizationDomains(slug=org), deployment).fallback
    assert url == f"https://{host}"


def test_readings_in_precedence_order():
    layers = [r.layer for r in read_host(PLATFORM, "5173-sbx1.sandbox.miosa.ai")]
    assert layers == ["deployment", "preview"]  # a deployment domain first, then the preview
    assert [r.layer for r in read_host(PLATFORM, "desk.computer.miosa.ai")][-1] == "desktop"
    assert [(r.layer, r.org_slug) for r in read_host(PLATFORM, "lead.cliniciq.miosa.app")] == [
        ("deployment", None), ("deployment", "cliniciq")]


@pytest.mark.parametrize("host", ["0-sbx.sandbox.miosa.ai", "65536-sbx.sandbox.miosa.ai",
                                  "05173-sbx.sandbox.miosa.ai", "5173-.sandbox.miosa.ai",
                                  "5173-sbx.previews.miosa.ai"])
def test_what_is_not_a_preview(host):
    assert all(r.layer != "preview" for r in read_host(PLATFORM, host))


@pytest.mark.parametrize(("raw", "expected"), [
    ("Program.DrSmithClinic.com", "program.drsmithclinic.com"),
    ("program.drsmithclinic.com.", "program.drsmithclinic.com"),
    ("program.drsmithclinic.com:443", "program.drsmithclinic.com"),
    ("Bücher.example", "xn--bcher-kva.example"),
    ("5173-sbx.sandbox.localhost:8000", "5173-sbx.sandbox.localhost"),
    ("[::1]:8000", None), ("a..b", None), ("-a.com", None), ("a_b.com", None),
    ("app.example.com:1,for=10.0.0.1;host=bank.example", None), ("app.example.com:", None),
    ("app.example.com:x", None), ("app.example.com:123456", None), ("a b.com:80", None),
    ("x" * 64 + ".com", None), ("", None), ("a b.com", None),
])
def test_canonical_hosts(raw, expected):
    assert canonical_host(raw) == expected


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-9", 100, (0, 9)), ("bytes=90-", 100, (90, 99)), ("bytes=-10", 100, (90, 99)),
    ("bytes=0-500", 100, (0, 99)), ("bytes=100-", 100, False), ("bytes=5-2", 100, False),
    ("bytes=-0", 100, False), ("bytes=0-1,5-6", 100, None), ("items=0-1", 100, None),
    ("bytes=-", 100, None),
])
def test_byte_ranges(header, size, expected):
    assert byte_range(header, size) == expected


def test_forwarded_headers_replace_the_clients_and_drop_hop_by_hop():
    sent = [(b"host", b"app.example.com"), (b"x-forwarded-for", b"6.6.6.6"),
            (b"connection", b"keep-alive, x-secret"), (b"x-secret", b"1"),
            (b"authorization", b"Bearer msk_live_abc"), (b"x-miosa-tenant", b"t"),
            (b"cookie", b"a=1; preview_token=t"), (b"te", b"trailers"), (b"accept", b"*/*")]
    out = upstream_headers(sent, host=b"app.example.com", port=3000, mask_host=False,
                           client_ip="2001:db8::1", scheme="https", is_ours=lambda _: False)
    names = [k for k, _ in out]
    assert names.count(b"x-forwarded-for") == 1 and dict(out)[b"x-forwarded-for"] == b"2001:db8::1"
    assert dict(out)[b"forwarded"] == b'for="[2001:db8::1]";host=app.example.com;proto=https'
    assert dict(out)[b"host"] == b"app.example.com" and dict(out)[b"cookie"] == b"a=1"
    for gone in (b"connection", b"x-secret", b"authorization", b"x-miosa-tenant", b"te"):
        assert gone not in names
    assert without_preview_cookies(b"__Host-preview_token=x") is None
    assert response_headers([(b"server", b"Werkzeug"), (b"x-powered-by", b"Express"),
                             (b"content-type", b"text/html"), (b"transfer-encoding", b"chunked")],
                            "app.example.com") == [(b"content-type", b"text/html")]


@pytest.mark.parametrize(("cookie", "kept"), [
    (b"session=1; Path=/; HttpOnly", True),
    (b"session=1; Domain=app.example.com", True),
    (b"session=1; domain=.APP.example.com", True),
    (b"session=1; Domain=example.com", False),  # every host under it would get it
    (b"__Host-preview_token=attacker; Path=/", False),  # the edge's own
    (b"preview_token=attacker", False),
])
def test_apps_set_only_their_own_host_cookies(cookie, kept):
    out = response_headers([(b"set-cookie", cookie)], "app.example.com")
    assert (out == [(b"set-cookie", cookie)]) is kept


@pytest.mark.parametrize(("origin", "public", "same"), [
    (b"https://a.example.com", "https://a.example.com", True),
    (b"https://A.example.com:443", "https://a.example.com", True),
    (b"http://a.example.com", "https://a.example.com", False),
    (b"https://a.example.com:9999", "https://a.example.com", False),
    (b"https://b.example.com", "https://a.example.com", False),
    (b"http://a.localhost:8000", "http://a.localhost:8000", True),
    (b"http://a.localhost", "http://a.localhost:8000", False),
    (b"null", "https://a.example.com", False), (None, "https://a.example.com", False),
    (b"https://a.example.com:99999", "https://a.example.com", False),
])
def test_same_origin_is_scheme_host_and_port(origin, public, same):
    assert same_origin(origin, public) is same


@pytest.mark.parametrize(("path", "location"), [
    ("/page", "/page"), ("//evil.example/x", "/evil.example/x"),
    ("/\\evil.example", "/evil.example"), ("/\\/evil", "/evil"), ("", "/"),
])
def test_the_token_redirect_stays_on_the_host(path, location):
    assert local_location(path, b"") == location
