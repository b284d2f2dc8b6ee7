"""The organization's preview domain (contract §13, spec §4) and deployment domain (spec §5)."""

from __future__ import annotations

import uuid

import pytest

from tests.api.test_spec_example import verify

PREVIEW = "/api/v1/tenant/preview-domain"
DEPLOYMENT = "/api/v1/tenant/deployment-domain"
KINDS = [
    # The routing records a domain needs (a preview domain's `*` is recommended, not needed).
    pytest.param(PREVIEW, "preview_domain", "preview", {"*.sandbox"}, id="preview"),
    pytest.param(DEPLOYMENT, "deployment_domain", "deployment", {"*"}, id="deployment"),
]


def error_of(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    if code is not None:
        assert err["code"] == code, err
    return err


def put(org, path, body):
    resp = org.put(path, body)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def dom():
    """A name of this test's own: a verified domain belongs to one organization, and every test
    shares the session's database."""
    return f"clinic{uuid.uuid4().hex[:10]}"


def sandbox(org):
    resp = org.post("/api/v1/sandboxes", {})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_unconfigured_before_anything_is_set(org, path, field, kind, names):
    resp = org.get(path)
    assert resp.status_code == 200, resp.text
    record = resp.json()
    assert "data" not in record
    assert record["status"] == "unconfigured" and record["domain"] is None
    assert record[field] is None and record["verified"] is False
    assert record["records"] == []
    default = "miosa.ai" if kind == "preview" else f"{org.slug}.miosa.app"
    assert record["default_domain"] == record["active_domain"] == default


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_put_canonicalizes_and_answers_the_dns_records(dom, org, path, field, kind, names):
    record = put(org, path, {field: f"{dom.upper()}.Dev."})
    assert "data" not in record
    assert record["domain"] == record[field] == f"{dom}.dev"
    assert record["status"] == "pending" and record["verified"] is False
    # Exactly the spec's routing CNAMEs: a name nobody else is near verifies by routing alone.
    # The ownership TXT record is listed in dns_records, but not required.
    assert {r["name"] for r in record["records"]} == names
    routing = [r for r in record["records"] if r["type"] == "CNAME"]
    assert {r["name"] for r in routing} == names
    assert all(r["value"] == "proxy.miosa.ai" for r in routing)
    txt = [r for r in record["dns_records"] if r["purpose"] == "ownership"]
    assert len(txt) == 1 and txt[0]["required"] is False
    assert "hostplane" not in txt[0]["value"]  # the customer sees it in their DNS
    assert isinstance(record["instructions"], str) and "proxy.miosa.ai" in record["instructions"]
    got = org.get(path).json()
    assert (got["domain"], got["status"]) == (f"{dom}.dev", "pending")


def test_international_names_are_stored_as_idna_and_shown_in_unicode(dom, org):
    record = put(org, PREVIEW, {"preview_domain": f"Bücher.{dom}.com"})
    assert record["domain"] == f"xn--bcher-kva.{dom}.com"
    assert record["domain_unicode"] == f"bücher.{dom}.com"
    reserved = org.put(PREVIEW, {"preview_domain": "Bücher.example"})
    error_of(reserved, 422, "DOMAIN_RESERVED")


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_put_accepts_the_go_clients_domain_key(org, path, field, kind, names):
    record = put(org, path, {"domain": "apps.example.com"})
    assert record["domain"] == record[field] == "apps.example.com"


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_same_domain_keeps_its_status_a_new_one_is_pending(dom, org, container, path, field, kind,
                                                            names):
    put(org, path, {field: f"apps.{dom}.com"})
    verify(container, org, kind)
    assert org.get(path).json()["status"] == "verified"
    same = put(org, path, {field: f"Apps.{dom}.com."})
    assert same["status"] == "verified" and same["verified"] is True
    other = put(org, path, {field: f"apps.{dom}.org"})
    assert other["status"] == "pending" and other["verified"] is False
    assert other["verified_at"] is None
    assert org.get(path).json()["domain"] == f"apps.{dom}.org"


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_invalid_domains_are_422_naming_the_field(org, path, field, kind, names):
    for bad in ("not a domain", "https://x.com/path", "localhost", "1.2.3.4", "a..b.com",
                "-x.example.com", "x.com/path"):
        err = error_of(org.put(path, {field: bad}), 422, "INVALID_DOMAIN")
        assert err["details"]["field"] == field, bad
    err = error_of(org.put(path, {"domain": "localhost"}), 422, "INVALID_DOMAIN")
    assert err["details"]["field"] == "domain"
    err = error_of(org.put(path, {}), 422)
    assert err["details"]["field"] == field
    assert org.get(path).json()["status"] == "unconfigured"


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_platform_domains_are_reserved(org, path, field, kind, names):
    for own in ("x.miosa.app", "MIOSA.APP", "sandbox.miosa.ai", "x.computer.miosa.ai",
                "miosa.ai"):
        err = error_of(org.put(path, {field: own}), 422, "DOMAIN_RESERVED")
        assert err["details"]["field"] == field, own
    assert put(org, path, {field: "notmiosa.app"})["domain"] == "notmiosa.app"


def test_a_preview_domain_too_long_for_preview_hosts_is_422(org):
    long_domain = ".".join(["a" * 60] * 4) + ".com"  # valid alone, too long under 65535-{slug}
    assert len(long_domain) <= 253
    err = error_of(org.put(PREVIEW, {"preview_domain": long_domain}), 422)
    assert err["details"]["field"] == "preview_domain"


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_delete_answers_unconfigured(org, path, field, kind, names):
    put(org, path, {field: "apps.example.com"})
    resp = org.delete(path)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "unconfigured" and resp.json()["domain"] is None
    assert org.get(path).json()["status"] == "unconfigured"
    again = org.delete(path)
    assert again.status_code == 200 and again.json()["status"] == "unconfigured"


def test_previews_use_the_preview_domain_only_once_verified_and_not_after_delete(dom, org, container):
    sbx = sandbox(org)
    slug = sbx["slug"]
    put(org, PREVIEW, {"preview_domain": f"{dom}.dev"})
    pending = org.get(f"/api/v1/sandboxes/{sbx['id']}").json()["data"]
    assert pending["preview_url"] == f"https://5173-{slug}.sandbox.miosa.ai"
    verify(container, org, "preview")
    got = org.get(f"/api/v1/sandboxes/{sbx['id']}").json()["data"]
    assert got["preview_url"] == f"https://5173-{slug}.sandbox.{dom}.dev"
    exposed = org.post(f"/api/v1/sandboxes/{sbx['id']}/expose", {"port": 3000}).json()["data"]
    assert exposed["url"] == f"https://3000-{slug}.sandbox.{dom}.dev"

    deleted = org.delete(PREVIEW)
    assert deleted.status_code == 200 and deleted.json()["status"] == "unconfigured"
    back = org.get(f"/api/v1/sandboxes/{sbx['id']}").json()["data"]
    assert back["preview_url"] == f"https://5173-{slug}.sandbox.miosa.ai"
    again = org.post(f"/api/v1/sandboxes/{sbx['id']}/expose", {"port": 3000}).json()["data"]
    assert again["url"] == f"https://3000-{slug}.sandbox.miosa.ai"


def test_a_verified_deployment_domain_is_the_deployment_url(dom, org, container):
    dep = org.post("/api/v1/deployments", {"name": "Lead Magnet"}).json()["data"]
    fallback = f"https://lead-magnet.{org.slug}.miosa.app"
    put(org, DEPLOYMENT, {"deployment_domain": f"apps.{dom}.com"})
    assert org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]["url"] == fallback
    verify(container, org, "deployment")
    got = org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]
    assert got["url"] == got["public_url"] == f"https://lead-magnet.apps.{dom}.com"
    assert got["urls"] == {"fallback": fallback, "branded": f"https://lead-magnet.apps.{dom}.com",
                           "custom": []}
    new = org.post("/api/v1/deployments", {"name": "Intake"}).json()["data"]
    assert new["url"] == f"https://intake.apps.{dom}.com"
    org.delete(DEPLOYMENT)
    assert org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]["url"] == fallback


def test_a_preview_domain_does_not_change_deployment_urls(dom, org, container):
    put(org, PREVIEW, {"preview_domain": f"{dom}.dev"})
    verify(container, org, "preview")
    dep = org.post("/api/v1/deployments", {"name": "Lead Magnet"}).json()["data"]
    assert dep["url"] == f"https://lead-magnet.{org.slug}.miosa.app"
    assert org.get(DEPLOYMENT).json()["status"] == "unconfigured"


def test_domains_are_per_organization(dom, org, other_org, container):
    put(org, PREVIEW, {"preview_domain": f"{dom}.dev"})
    verify(container, org, "preview")
    assert other_org.get(PREVIEW).json()["status"] == "unconfigured"
    theirs = sandbox(other_org)
    assert theirs["preview_url"].endswith(".sandbox.miosa.ai")


def test_a_verified_domain_belongs_to_one_organization(dom, org, other_org, container):
    """Both may ask for a name; once one has it verified, nobody else gets it or a name under or
    around it, and a second verification of the same name is refused."""
    put(org, PREVIEW, {"preview_domain": f"{dom}.dev"})
    put(other_org, PREVIEW, {"preview_domain": f"{dom}.dev"})  # pending: still allowed
    verify(container, org, "preview")
    for taken in (f"{dom}.dev", f"previews.{dom}.dev"):
        error_of(other_org.put(DEPLOYMENT, {"deployment_domain": taken}), 409, "DOMAIN_CLAIMED")
    with pytest.raises(Exception) as caught:
        verify(container, other_org, "preview")
    assert getattr(caught.value, "code", None) == "DOMAIN_CLAIMED"
    assert other_org.get(PREVIEW).json()["status"] == "pending"
    # The owner itself may use the name for its other layer.
    assert put(org, DEPLOYMENT, {"deployment_domain": f"apps.{dom}.dev"})["status"] == "pending"


def test_a_preview_domain_needs_only_its_sandbox_wildcard(dom, org, zone):
    """No company can point `*` of its main domain at the platform: `*.sandbox` (and the
    ownership TXT) verify a preview domain; `*` is listed as recommended, not required."""
    from tests.api.test_spec_example import create_dns

    record = put(org, PREVIEW, {"preview_domain": f"{dom}.com"})
    required = {(r["host"], r["required"]) for r in record["dns_records"]
                if r["purpose"] == "routing"}
    assert required == {("*", False), ("*.sandbox", True)}
    create_dns(zone, record["dns_records"])  # the required records only
    zone.remove(f"*.{dom}.com")
    checked = org.post(f"{PREVIEW}/verify").json()
    assert checked["verified"] is True and checked["status"] == "verified", checked


@pytest.mark.parametrize(("path", "field", "kind", "names"), KINDS)
def test_a_replaced_domain_serves_until_its_replacement_verifies(dom, org, other_org, container,
                                                                 edge_url, path, field, kind,
                                                                 names):
    """Moving from a verified domain to a new, pending one keeps URLs (and the edge) on the
    verified one until the new one verifies; then the old name is given back (issue 15 item 4)."""
    from tests.edge.helpers import via_edge

    old, new = f"{dom}.dev", f"{dom}.com"
    dep = org.post("/api/v1/deployments", {"name": "Lead Magnet"}).json()["data"]
    sbx = sandbox(org)

    def url() -> str:
        if kind == "preview":
            return org.get(f"/api/v1/sandboxes/{sbx['id']}").json()["data"]["preview_url"]
        return org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]["url"]

    def host(base: str) -> str:
        return f"5173-{sbx['slug']}.sandbox.{base}" if kind == "preview" else f"lead-magnet.{base}"

    put(org, path, {field: old})
    verify(container, org, kind)
    assert old in url()
    moving = put(org, path, {field: new})
    assert (moving["domain"], moving["status"], moving["active_domain"]) == (new, "pending", old)
    assert old in url() and new not in url()  # still the verified one
    assert via_edge(edge_url, host(old)).status_code != 404  # still routed
    assert via_edge(edge_url, host(new)).status_code == 404  # not yet
    taken = other_org.put(path, {field: old})  # the old name is still this organization's
    assert taken.status_code in (200, 409)
    if taken.status_code == 200:
        with pytest.raises(Exception):
            verify(container, other_org, kind)

    # Back to the name still serving: verified at once, nothing to prove again.
    back = put(org, path, {field: old})
    assert (back["status"], back["active_domain"]) == ("verified", old)
    put(org, path, {field: new})
    verify(container, org, kind)
    assert new in url() and old not in url()
    assert via_edge(edge_url, host(new)).status_code != 404
    assert via_edge(edge_url, host(old)).status_code == 404
    if taken.status_code == 200:  # the old name is free for whoever proves it now
        verify(container, other_org, kind)
