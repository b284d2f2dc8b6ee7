"""Deployments through the edge (issue "The edge" §2): the active version's files at the managed
fallback, the organization's verified deployment domain and verified exact domains, with
content types, folder indexes, ETags, ranges, gzip and an optional single-page-app fallback;
promote and rollback are served at once. Real uploads, real DNS on loopback, real HTTP."""

from __future__ import annotations

import gzip
import uuid

from tests.api.test_publish import archive, upload
from tests.api.test_spec_example import create_dns
from tests.edge.helpers import via_edge

DEPLOYMENTS = "/api/v1/deployments"
SCRIPT = b"console.log('lead magnet');\n" * 100  # over 1 KB: worth compressing


def published(org, name="Lead Magnet", files=None, **body):
    dep = org.post(DEPLOYMENTS, {"name": name, **body}).json()["data"]
    files = files or [("index.html", b"<h1>v1</h1>"), ("about/index.html", b"<p>about</p>"),
                      ("app.js", SCRIPT), ("style.css", b"body{}")]
    resp = upload(org, dep["id"], archive(*files), promote="true")
    assert resp.status_code == 201, resp.text
    return dep, resp.json()["data"]["version"]


def fallback(org, dep):
    return f"{dep['slug']}.{org.slug}.miosa.app"


def test_the_active_version_is_served_at_the_managed_fallback(org, edge_url):
    dep, _ = published(org)
    host = fallback(org, dep)
    index = via_edge(edge_url, host, "/")
    assert (index.status_code, index.text) == (200, "<h1>v1</h1>")
    assert index.headers["content-type"].startswith("text/html")
    assert via_edge(edge_url, host, "/about/").text == "<p>about</p>"
    assert via_edge(edge_url, host, "/about").text == "<p>about</p>"
    assert via_edge(edge_url, host, "/style.css").headers["content-type"].startswith("text/css")
    assert via_edge(edge_url, host, "/app.js").headers["content-type"].startswith("text/javascript")
    missing = via_edge(edge_url, host, "/nope.html")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert via_edge(edge_url, host, "/../../etc/passwd").status_code == 404
    post = via_edge(edge_url, host, "/", method="POST")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    head = via_edge(edge_url, host, "/", method="HEAD")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "11"


def test_etags_ranges_and_gzip(org, edge_url):
    dep, _ = published(org)
    host = fallback(org, dep)
    first = via_edge(edge_url, host, "/style.css")
    etag = first.headers["etag"]
    assert via_edge(edge_url, host, "/style.css", headers={"If-None-Match": etag}).status_code == 304
    part = via_edge(edge_url, host, "/app.js", headers={"Range": "bytes=0-9",
                                                         "Accept-Encoding": "identity"})
    assert part.status_code == 206 and part.content == SCRIPT[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(SCRIPT)}"
    tail = via_edge(edge_url, host, "/app.js", headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == SCRIPT[-5:]
    bad = via_edge(edge_url, host, "/app.js", headers={"Range": f"bytes={len(SCRIPT)}-"})
    assert bad.status_code == 416
    zipped = via_edge(edge_url, host, "/app.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(SCRIPT) and zipped.content == SCRIPT
    raw = via_edge(edge_url, host, "/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.content == SCRIPT
    assert gzip.decompress(gzip.compress(raw.content)) == SCRIPT
    again = via_edge(edge_url, host, "/app.js", headers={
        "Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]})
    assert again.status_code == 304


def test_single_page_apps_fall_back_to_index_and_sites_keep_their_404(org, edge_url):
    spa, _ = published(org, "Dashboard", metadata={"spa_fallback": True})
    host = fallback(org, spa)
    assert via_edge(edge_url, host, "/settings/profile").text == "<h1>v1</h1>"
    assert via_edge(edge_url, host, "/missing.js").status_code == 404
    site, _ = published(org, "Site", files=[("index.html", b"home"), ("404.html", b"lost")])
    lost = via_edge(edge_url, fallback(org, site), "/where")
    assert (lost.status_code, lost.text) == (404, "lost")


def test_nothing_published_then_promote_and_rollback_are_served_at_once(org, edge_url):
    dep = org.post(DEPLOYMENTS, {"name": "Later"}).json()["data"]
    host = fallback(org, dep)
    empty = via_edge(edge_url, host)
    assert (empty.status_code, empty.json()["error"]["code"]) == (503, "NOT_PUBLISHED")
    v1 = upload(org, dep["id"], archive(("index.html", b"one")), promote="true").json()["data"]
    assert via_edge(edge_url, host).text == "one"
    upload(org, dep["id"], archive(("index.html", b"two")), promote="true")
    assert via_edge(edge_url, host).text == "two"
    assert org.post(f"{DEPLOYMENTS}/{dep['id']}/rollback", {}).status_code == 200
    assert via_edge(edge_url, host).text == "one"
    assert v1["version"]["version_number"] == 1
    assert org.delete(f"{DEPLOYMENTS}/{dep['id']}").status_code == 200
    gone = via_edge(edge_url, host)
    assert gone.status_code in (404, 410)


def test_branded_and_exact_domains_serve_only_once_verified(org, other_org, zone, edge_url):
    site = f"site{uuid.uuid4().hex[:10]}.com"
    dep, _ = published(org)
    branded = f"{dep['slug']}.apps.{site}"
    wildcard = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": f"apps.{site}"})
    assert wildcard.status_code == 200, wildcard.text
    assert via_edge(edge_url, branded).status_code == 404  # pending: not routed
    create_dns(zone, wildcard.json()["dns_records"])
    assert org.post("/api/v1/tenant/deployment-domain/verify").json()["verified"] is True
    assert via_edge(edge_url, branded).text == "<h1>v1</h1>"
    assert via_edge(edge_url, fallback(org, dep)).text == "<h1>v1</h1>"  # always available

    exact = f"program.{site}"
    record = org.post(f"{DEPLOYMENTS}/{dep['id']}/domains", {"domain": exact}).json()["data"]
    assert via_edge(edge_url, exact).status_code == 404
    create_dns(zone, record["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    assert via_edge(edge_url, exact).text == "<h1>v1</h1>"
    assert via_edge(edge_url, exact.upper() + ".:443").text == "<h1>v1</h1>"  # canonical form
    # Another organization's deployment with the same slug is not reachable through mine.
    theirs, _ = published(other_org, files=[("index.html", b"theirs")])
    assert theirs["slug"] == dep["slug"]
    assert via_edge(edge_url, branded).text == "<h1>v1</h1>"
    assert via_edge(edge_url, fallback(other_org, theirs)).text == "theirs"
    org.delete(f"/api/v1/custom-domains/{record['id']}")
    assert via_edge(edge_url, exact).status_code == 404  # detached: gone at once


def test_a_computer_host_says_its_desktop_is_not_available(org, edge_url):
    computer = org.post("/api/v1/computers", {"name": "Desk"}).json()  # a bare object (contract)
    host = computer["desktop_url"].split("//", 1)[1].split("/", 1)[0]
    resp = via_edge(edge_url, host, "/desktop/index.html", headers={"Accept": "text/html"})
    assert resp.status_code == 401 and "This desktop is private" in resp.text  # no grant
    # With a viewer grant, a computer without a desktop (desktops are off in the suite) says so.
    grant = org.get(f"/api/v1/computers/{computer['id']}/embed").json()
    token = grant["url"].split("preview_token=", 1)[1]
    resp = via_edge(edge_url, host, "/desktop/index.html",
                    headers={"Accept": "text/html", "Authorization": f"Bearer {token}"})
    assert resp.status_code == 503 and "Desktop not available" in resp.text
