"""Who holds a name, across every kind of domain (spec §4–§7): one organization per proven name
whatever the kind, races decided by the database, a domain that changed hands, and the history
each organization sees when its claim ends."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from tests.api.test_custom_domains import attach, deployment
from tests.api.test_spec_example import create_dns


@pytest.fixture
def site():
    return f"claim{uuid.uuid4().hex[:10]}.com"


def verify_at_once(*calls):
    """Run the verify calls at the same moment; answers their responses."""
    barrier = Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("round_", range(4))
def test_two_kinds_of_the_same_name_race_and_one_wins(org, other_org, zone, round_):
    """A preview domain and a deployment domain of one name, in two organizations, verified at
    the same instant: they live in one table each, but the name is one claim."""
    name = f"race{uuid.uuid4().hex[:10]}.com"
    mine = org.put("/api/v1/tenant/preview-domain", {"preview_domain": name}).json()
    theirs = other_org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": name})
    assert theirs.status_code == 200, theirs.text
    create_dns(zone, mine["dns_records"])
    create_dns(zone, theirs.json()["dns_records"])  # both TXT tokens sit at one name: fine
    zone.set(f"_hostplane-challenge.{name}", "TXT",
             *[f'"{r["value"]}"' for body in (mine, theirs.json())
               for r in body["dns_records"] if r["purpose"] == "ownership"])
    a, b = verify_at_once(lambda: org.post("/api/v1/tenant/preview-domain/verify"),
                          lambda: other_org.post("/api/v1/tenant/deployment-domain/verify"))
    won = [r.json().get("verified") is True for r in (a, b)]
    assert won.count(True) == 1, (a.text, b.text)
    loser = b if won[0] else a
    assert loser.status_code == 409 and loser.json()["error"]["code"] == "DOMAIN_CLAIMED"


@pytest.mark.parametrize("round_", range(4))
def test_a_wildcard_and_a_name_beneath_it_race_and_one_wins(org, other_org, zone, site, round_):
    wildcard = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": site}).json()
    exact = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                   domain=f"www.{site}")
    create_dns(zone, wildcard["dns_records"])
    create_dns(zone, exact["dns_records"])
    a, b = verify_at_once(
        lambda: org.post("/api/v1/tenant/deployment-domain/verify"),
        lambda: other_org.post(f"/api/v1/custom-domains/{exact['id']}/verify"))
    won = [a.json().get("verified") is True,
           b.status_code == 200 and b.json()["data"]["verified"] is True]
    assert won.count(True) == 1, (a.text, b.text)


def test_a_domain_that_changed_hands_goes_to_whoever_proves_it_now(org, other_org, zone, site):
    """The first owner proved the name with its TXT record, so nobody else may claim it. The name
    is sold: the new owner keeps the CNAME to us but drops the old TXT. The old domain still
    routes (nobody else is near the name), but now only by routing, so the new owner may claim
    it, and its own TXT proof takes the name; the old claim ends, saying why."""
    old = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains", domain=f"www.{site}")
    create_dns(zone, old["dns_records"], everything=True)
    assert org.post(f"/api/v1/custom-domains/{old['id']}/verify").json()["data"]["verified"]
    refused = other_org.post(f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                             {"domain": f"www.{site}"})
    assert refused.status_code == 409

    zone.remove(f"_hostplane-challenge.www.{site}")  # the new owner's DNS: the old TXT is gone
    body = org.post(f"/api/v1/custom-domains/{old['id']}/verify").json()["data"]
    assert body["state"] == "verified"
    new = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                 domain=f"www.{site}")
    assert [r["required"] for r in new["dns_records"] if r["purpose"] == "ownership"] == [True]
    create_dns(zone, new["dns_records"])
    assert other_org.post(f"/api/v1/custom-domains/{new['id']}/verify").json()["data"]["verified"]
    assert org.get(f"/api/v1/custom-domains/{old['id']}").status_code == 404
    history = org.get(f"/api/v1/custom-domains/{old['id']}/events").json()["data"]
    assert history[-1]["to_status"] == "removed"
    assert "another organization" in history[-1]["detail"]
    assert other_org.tenant_id not in str(history)


def test_routing_alone_never_takes_a_name_from_anyone(org, other_org, zone, site):
    """A name another organization verified by routing alone stays its own against a rival that
    also has only the routing record: the rival needs the TXT record (the name is contested)."""
    first = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains",
                   domain=f"api.{site}")
    create_dns(zone, first["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{first['id']}/verify").json()["data"]["verified"]
    rival = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                   domain=f"api.{site}")
    body = other_org.post(f"/api/v1/custom-domains/{rival['id']}/verify").json()["data"]
    assert body["state"] == "pending"
    assert [e["code"] for e in body["errors"]] == ["OWNERSHIP_RECORD_MISSING"]
    assert org.get(f"/api/v1/custom-domains/{first['id']}").json()["data"]["verified"]


def test_a_name_once_held_elsewhere_needs_the_txt_record(org, other_org, zone, site):
    """A tombstone counts: a name another organization verified once (and gave up) is contested
    for whoever claims it next."""
    first = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains",
                   domain=f"old.{site}")
    create_dns(zone, first["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{first['id']}/verify").json()["data"]["verified"]
    assert org.delete(f"/api/v1/custom-domains/{first['id']}").status_code == 200
    again = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                   domain=f"old.{site}")
    assert [r["required"] for r in again["dns_records"] if r["purpose"] == "ownership"] == [True]
    body = other_org.post(f"/api/v1/custom-domains/{again['id']}/verify").json()["data"]
    assert body["state"] == "pending"


def test_a_removed_domain_gives_its_name_back(org, other_org, zone, site):
    record = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains",
                    domain=f"shop.{site}")
    create_dns(zone, record["dns_records"], everything=True)  # proven by TXT: it blocks
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    dep = deployment(other_org)
    blocked = other_org.post(f"/api/v1/deployments/{dep['id']}/domains", {"domain": f"shop.{site}"})
    assert blocked.status_code == 409
    org.delete(f"/api/v1/custom-domains/{record['id']}")
    claim = attach(other_org, f"/api/v1/deployments/{dep['id']}/domains", domain=f"shop.{site}")
    assert claim["status"] == "pending"  # fresh proof needed: its own TXT


def test_a_deleted_target_leaves_a_removed_event_saying_why(org, zone, site):
    dep = deployment(org)
    record = attach(org, f"/api/v1/deployments/{dep['id']}/domains", domain=f"x.{site}")
    create_dns(zone, record["dns_records"])
    org.post(f"/api/v1/custom-domains/{record['id']}/verify")
    org.delete(f"/api/v1/deployments/{dep['id']}")
    history = org.get(f"/api/v1/custom-domains/{record['id']}/events").json()["data"]
    assert [(e["from_status"], e["to_status"]) for e in history][-1] == ("verified", "removed")
    assert history[-1]["detail"] == "its deployment was deleted"


def test_an_organization_domain_and_an_exact_domain_of_one_organization_share_a_name(
        org, other_org, zone, site):
    """One organization may use `site` both as its deployment domain (`*.site`) and as an exact
    domain (the apex itself); giving one back keeps the name held by the other."""
    wildcard = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": site}).json()
    create_dns(zone, wildcard["dns_records"])
    assert org.post("/api/v1/tenant/deployment-domain/verify").json()["verified"] is True
    apex = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains", domain=site)
    zone.set(site, "A", "192.0.2.10")
    zone.set("proxy.miosa.ai", "A", "192.0.2.10")
    zone.set(f"_hostplane-challenge.{site}", "TXT", *[
        f'"{r["value"]}"' for body in (wildcard, apex) for r in body["dns_records"]
        if r["purpose"] == "ownership"])
    assert org.post(f"/api/v1/custom-domains/{apex['id']}/verify").json()["data"]["verified"]
    org.delete("/api/v1/tenant/deployment-domain")
    taken = other_org.post(f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                           {"domain": site})
    assert taken.status_code == 409  # the apex still holds it
    free = other_org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": f"a.{site}"})
    assert free.status_code == 200  # the wildcard no longer covers names beneath


def test_an_organization_domain_held_by_routing_alone_goes_to_the_txt_owner(org, other_org, zone,
                                                                           site):
    """The wildcard case of a takeover: the first organization's deployment domain verified by
    routing alone; the owner of the name proves it with its TXT record and takes it; the first
    one's domain fails (its URLs fall back to the managed domain) and its history says why."""
    first = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": site}).json()
    create_dns(zone, first["dns_records"])
    assert org.post("/api/v1/tenant/deployment-domain/verify").json()["verified"] is True
    owner = other_org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": site})
    assert owner.status_code == 200, owner.text
    create_dns(zone, owner.json()["dns_records"])
    assert other_org.post("/api/v1/tenant/deployment-domain/verify").json()["verified"] is True
    lost = org.get("/api/v1/tenant/deployment-domain").json()
    assert lost["state"] == "failed" and lost["active_domain"] == f"{org.slug}.miosa.app"
    assert "another organization" in lost["failure_reason"]
    assert other_org.slug not in str(lost)
    history = org.get("/api/v1/tenant/deployment-domain/events").json()["data"]
    assert history[-1]["to_status"] == "failed" and other_org.tenant_id not in str(history)


def routing_only(zone, records):
    create_dns(zone, [r for r in records if r["purpose"] != "ownership"])


def test_a_name_beside_anothers_under_a_dns_wildcard_needs_the_txt_record(org, other_org, zone):
    """The victim's DNS sends every name of its zone to the platform (`*.site`): a rival adding
    `login.site` must not verify by that shared routing. Also without any claim in the zone:
    the wildcard itself makes routing prove nothing about one name."""
    site = f"sib{uuid.uuid4().hex[:8]}.com"
    mine = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains", domain=f"app.{site}")
    proxy = next(r for r in mine["dns_records"] if r["purpose"] == "routing")["value"]
    zone.set(f"*.{site}", "CNAME", proxy + ".")
    create_dns(zone, mine["dns_records"], everything=True)
    assert org.post(f"/api/v1/custom-domains/{mine['id']}/verify").json()["data"]["verified"]
    evil = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                  domain=f"login.{site}")
    body = other_org.post(f"/api/v1/custom-domains/{evil['id']}/verify").json()["data"]
    assert body["verified"] is False
    assert [e["code"] for e in body["errors"]] == ["OWNERSHIP_RECORD_MISSING"]
    lone = f"lone{uuid.uuid4().hex[:8]}.com"
    zone.set(f"*.{lone}", "CNAME", proxy + ".")
    first = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                   domain=f"shop.{lone}")
    body = other_org.post(f"/api/v1/custom-domains/{first['id']}/verify").json()["data"]
    assert body["verified"] is False  # nobody else near, but the wildcard routes everything


def test_a_rivals_claim_does_not_unverify_a_holder(org, other_org, zone):
    """A pending claim beneath a name held by routing alone changes nothing for the holder: it
    loses the name only to a rival's TXT proof."""
    site = f"grief{uuid.uuid4().hex[:8]}.com"
    first = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains",
                   domain=f"api.{site}")
    routing_only(zone, first["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{first['id']}/verify").json()["data"]["verified"]
    attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
           domain=f"x.api.{site}")
    body = org.post(f"/api/v1/custom-domains/{first['id']}/verify").json()["data"]
    assert body["verified"] is True


def test_a_txt_proof_beneath_never_takes_the_wildcard_above(org, other_org, zone):
    """Proving `team.site` says nothing about who owns `site`: a routing-only organization
    domain above it stays, and the name beneath stays refused."""
    site = f"evict{uuid.uuid4().hex[:8]}.com"
    first = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": site}).json()
    routing_only(zone, first["dns_records"])
    assert org.post("/api/v1/tenant/deployment-domain/verify").json()["verified"] is True
    rival = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                   domain=f"team.{site}")
    create_dns(zone, rival["dns_records"], everything=True)
    refused = other_org.post(f"/api/v1/custom-domains/{rival['id']}/verify")
    assert refused.status_code == 409 or refused.json()["data"]["verified"] is False
    assert org.get("/api/v1/tenant/deployment-domain").json()["state"] == "verified"
