"""Organization domains proven with real DNS (a server on loopback): the records the API says to
create are exactly the ones that verify, routing alone proves a name nobody else is near and
ownership is needed too when someone is, and a domain whose DNS goes away stops winning."""

from __future__ import annotations

import uuid

import pytest

PREVIEW = "/api/v1/tenant/preview-domain"
DEPLOYMENT = "/api/v1/tenant/deployment-domain"


@pytest.fixture
def dom():
    return f"clinic{uuid.uuid4().hex[:10]}.dev"


def install(zone, record, *, only=None):
    """Create in DNS what one `dns_records` entry asks for (a wildcard as a wildcard)."""
    if only and record["purpose"] not in only:
        return
    value = f'"{record["value"]}"' if record["type"] == "TXT" else record["value"] + "."
    zone.set(record["name"], record["type"], value)


def test_the_records_the_api_gives_are_the_ones_that_verify(org, zone, dom):
    """Spec §4: PUT the preview domain, create the DNS it lists, verify; previews move."""
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    record = org.put(PREVIEW, {"preview_domain": dom}).json()
    kinds = {(r["purpose"], r["type"], r["name"]) for r in record["dns_records"]}
    assert ("routing", "CNAME", f"*.{dom}") in kinds
    assert ("routing", "CNAME", f"*.sandbox.{dom}") in kinds
    assert ("ownership", "TXT", f"_hostplane-challenge.{dom}") in kinds
    acme = [r for r in record["dns_records"] if r["purpose"] == "certificate"]
    assert acme and not any(r["required"] for r in acme)
    assert all(r["status"] == "missing" for r in record["dns_records"])
    routing = [r for r in record["dns_records"] if r["purpose"] == "routing"]
    assert {r["value"] for r in routing} == {"proxy.miosa.ai"}
    assert {r["host"] for r in routing} == {"*", "*.sandbox"}  # as typed in the zone dom

    for r in record["dns_records"]:
        install(zone, r)
    checked = org.post(f"{PREVIEW}/verify")
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["status"] == "verified" and body["verified"] is True, body["errors"]
    assert body["errors"] == [] and body["last_checked_at"] and body["next_check_at"]
    assert all(r["status"] == "ok" for r in body["dns_records"] if r["required"])
    got = org.get(f"/api/v1/sandboxes/{sandbox['id']}").json()["data"]
    assert got["preview_url"] == f"https://5173-{sandbox['slug']}.sandbox.{dom}"


def test_routing_alone_verifies_a_name_nobody_else_is_near(org, zone, dom):
    """Exactly the DNS the spec lists (the routing CNAMEs, no TXT) verifies a name no other
    organization holds, has held or claims; previews move to it."""
    record = org.put(PREVIEW, {"preview_domain": dom}).json()
    for r in record["dns_records"]:
        install(zone, r, only={"routing"})
    body = org.post(f"{PREVIEW}/verify").json()
    assert body["status"] == "verified" and body["verified"] is True, body["errors"]
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    assert sandbox["preview_url"].endswith(f".sandbox.{dom}")


@pytest.mark.parametrize("near", ["same", "parent", "child"])
def test_routing_alone_does_not_prove_a_contested_name(org, other_org, zone, dom, near):
    """When another organization claims the name, one above it or one beneath it, a CNAME to the
    shared proxy is not proof: without the TXT token the domain stays pending and the error says
    which record is missing and how to fix it."""
    rival = {"same": dom, "parent": dom, "child": f"www.{dom}"}[near]
    if near == "parent":
        dom = f"app.{dom}"
    claimed = other_org.put(DEPLOYMENT, {"deployment_domain": rival})
    assert claimed.status_code == 200, claimed.text
    record = org.put(PREVIEW, {"preview_domain": dom}).json()
    txt = next(r for r in record["dns_records"] if r["purpose"] == "ownership")
    assert txt["required"] is True
    for r in record["dns_records"]:
        install(zone, r, only={"routing"})
    body = org.post(f"{PREVIEW}/verify").json()
    assert body["status"] == "pending" and body["verified"] is False
    assert [e["code"] for e in body["errors"]] == ["OWNERSHIP_RECORD_MISSING"]
    assert "_hostplane-challenge" in body["errors"][0]["fix"]
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    assert sandbox["preview_url"].endswith(".sandbox.miosa.ai")
    install(zone, txt)
    assert org.post(f"{PREVIEW}/verify").json()["verified"] is True


def test_ownership_alone_does_not_route(org, zone, dom):
    record = org.put(DEPLOYMENT, {"deployment_domain": f"apps.{dom}"}).json()
    for r in record["dns_records"]:
        install(zone, r, only={"ownership"})
    zone.set(f"*.apps.{dom}", "CNAME", "elsewhere.example.net.")
    body = org.post(f"{DEPLOYMENT}/verify").json()
    assert body["status"] == "pending"
    assert [e["code"] for e in body["errors"]] == ["ROUTING_RECORD_CONFLICT"]
    routing = next(r for r in body["dns_records"] if r["purpose"] == "routing")
    assert routing["status"] == "conflict" and routing["observed"] == ["elsewhere.example.net"]


def test_the_token_is_this_organizations_own_and_stable(org, other_org, zone, dom):
    """Another organization's token does not verify; removing and re-adding keeps the token."""
    mine = org.put(PREVIEW, {"preview_domain": dom}).json()
    token = next(r["value"] for r in mine["dns_records"] if r["purpose"] == "ownership")
    theirs = other_org.put(PREVIEW, {"preview_domain": dom}).json()
    assert next(r["value"] for r in theirs["dns_records"] if r["purpose"] == "ownership") != token
    org.delete(PREVIEW)
    again = org.put(PREVIEW, {"preview_domain": dom}).json()
    assert next(r["value"] for r in again["dns_records"] if r["purpose"] == "ownership") == token
    for r in again["dns_records"]:
        install(zone, r)
    assert other_org.post(f"{PREVIEW}/verify").json()["status"] == "pending"
    assert org.post(f"{PREVIEW}/verify").json()["status"] == "verified"
    # Now the name is the first organization's: the other cannot verify it even with its token.
    for r in theirs["dns_records"]:
        install(zone, r, only={"ownership"})
    claimed = other_org.post(f"{PREVIEW}/verify")
    assert claimed.status_code == 409 and claimed.json()["error"]["code"] == "DOMAIN_CLAIMED"


def test_dns_removed_after_verification_is_misconfigured_and_stops_winning(org, zone, dom):
    record = org.put(DEPLOYMENT, {"deployment_domain": f"apps.{dom}"}).json()
    for r in record["dns_records"]:
        install(zone, r)
    assert org.get(f"{DEPLOYMENT}/verify").json()["status"] == "verified"  # GET, as the spec writes
    dep = org.post("/api/v1/deployments", {"name": "Lead Magnet"}).json()["data"]
    assert dep["url"] == f"https://lead-magnet.apps.{dom}"
    zone.remove(f"*.apps.{dom}")
    body = org.post(f"{DEPLOYMENT}/verify").json()
    assert (body["state"], body["status"]) == ("misconfigured", "failed")
    assert body["verified"] is False
    assert [e["code"] for e in body["errors"]] == ["ROUTING_RECORD_MISSING"]
    again = org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]
    assert again["url"] == f"https://lead-magnet.{org.slug}.miosa.app"


def test_verify_without_a_domain_is_404(org):
    resp = org.post(f"{PREVIEW}/verify")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "PREVIEW_DOMAIN_NOT_SET"


def test_verify_is_rate_limited_per_organization(org, other_org, clock):
    """Each explicit check costs DNS queries: at most 60 an hour per organization, then 429 with
    retry_after; other organizations are not affected, and the window moves on."""
    for _ in range(60):
        assert org.post(f"{PREVIEW}/verify").status_code == 404  # counted, even with no domain
    limited = org.post(f"{PREVIEW}/verify")
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "RATE_LIMITED" and 0 < error["retry_after"] <= 3600
    assert limited.headers["retry-after"]
    assert other_org.post(f"{PREVIEW}/verify").status_code == 404
    clock.advance(3601)
    assert org.post(f"{PREVIEW}/verify").status_code == 404


def test_a_dns_server_that_does_not_answer_changes_nothing(org, zone, dom, container):
    """The nameserver goes silent during a check (the API's verify and the worker's re-check):
    the result is inconclusive, the domain keeps its status and keeps winning, no event says
    otherwise, and it is asked again soon."""
    import socket

    from sqlalchemy import update

    from hostplane.domains.jobs import recheck_domains
    from hostplane.domains.models import TenantDomain
    from hostplane.domains.resolver import DnsResolver

    record = org.put(DEPLOYMENT, {"deployment_domain": f"apps.{dom}"}).json()
    for r in record["dns_records"]:
        install(zone, r)
    assert org.post(f"{DEPLOYMENT}/verify").json()["status"] == "verified"
    dep = org.post("/api/v1/deployments", {"name": "Lead Magnet"}).json()["data"]
    start = max(e["id"] for e in org.get("/api/v1/events", params={"limit": 200})
                .json()["data"])
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes questions, never answers
    silent.bind(("127.0.0.1", 0))
    working, container.resolver = container.resolver, DnsResolver(
        [f"127.0.0.1:{silent.getsockname()[1]}"], timeout=1.0)
    try:
        body = org.post(f"{DEPLOYMENT}/verify").json()
        assert (body["status"], body["verified"]) == ("verified", True), body
        assert body["errors"], "the answer says DNS did not answer"
        with container.database.transaction() as session:  # due for the worker's re-check
            session.execute(update(TenantDomain).where(TenantDomain.tenant_id == org.tenant_id)
                            .values(next_check_at=container.clock.now().replace(year=2000)))
        recheck_domains(container)
        after = org.get(DEPLOYMENT).json()
        assert after["status"] == "verified", after
    finally:
        container.resolver = working
        silent.close()
    assert org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]["url"] == \
        f"https://lead-magnet.apps.{dom}"
    assert org.get("/api/v1/events", params={"types": "domain.*", "after": start}) \
        .json()["data"] == []
