"""Exact custom domains (spec §6, §7) proven with real DNS on loopback: they win over every other
layer once verified, a name belongs to one organization, and a removed name needs fresh proof."""

from __future__ import annotations

import uuid

import pytest

from tests.api.test_spec_example import create_dns


@pytest.fixture
def site():
    return f"site{uuid.uuid4().hex[:10]}.com"


def deployment(org, name="Lead Magnet", **body):
    resp = org.post("/api/v1/deployments", {"name": name, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def attach(org, path, **body):
    resp = org.post(path, body)
    assert resp.status_code in (200, 201), resp.text
    return resp.json()["data"]


def test_a_verified_exact_domain_wins_for_its_deployment(org, zone, site):
    dep = deployment(org)
    fallback = f"https://{dep['slug']}.{org.slug}.miosa.app"
    record = attach(org, f"/api/v1/deployments/{dep['id']}/domains", domain=f"program.{site}")
    assert record["status"] == "pending" and record["verified"] is False
    assert record["deployment_id"] == dep["id"] and record["fqdn"] == f"program.{site}"
    assert isinstance(record["instructions"], str) and "proxy.miosa.ai" in record["instructions"]
    assert {(r["purpose"], r["type"], r["host"]) for r in record["dns_records"]} == {
        ("ownership", "TXT", "_hostplane-challenge.program"), ("routing", "CNAME", "program")}
    assert deployment_url(org, dep) == fallback  # pending: never used

    create_dns(zone, record["dns_records"])
    checked = org.post(f"/api/v1/deployments/{dep['id']}/domains/{record['id']}/verify")
    assert checked.status_code == 200, checked.text
    assert checked.json()["data"]["status"] == "verified"
    got = org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]
    assert got["url"] == got["public_url"] == f"https://program.{site}"
    assert got["urls"]["custom"] == [f"https://program.{site}"] and got["url_source"] == "custom"
    assert got["urls"]["fallback"] == fallback

    # DNS removed: the next check notices, and the URL falls back.
    zone.remove(f"program.{site}")
    again = org.post(f"/api/v1/deployments/{dep['id']}/domains/{record['id']}/verify")
    body = again.json()["data"]
    assert (body["state"], body["status"]) == ("misconfigured", "failed")
    assert [e["code"] for e in body["errors"]] == ["ROUTING_RECORD_MISSING"]
    assert deployment_url(org, dep) == fallback


def deployment_url(org, dep):
    return org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]["url"]


def test_an_apex_gets_an_alias_and_is_checked_by_address(org, zone, site):
    dep = deployment(org, "Website")
    record = attach(org, f"/api/v1/deployments/{dep['id']}/domains", domain=site)
    routing = next(r for r in record["dns_records"] if r["purpose"] == "routing")
    assert (routing["type"], routing["host"]) == ("ALIAS", "@")
    assert "ALIAS/ANAME" in record["instructions"]
    zone.set("proxy.miosa.ai", "A", "203.0.113.10")
    zone.set(f"_hostplane-challenge.{site}", "TXT", f'"{record["verification_token"]}"')
    zone.set(site, "A", "198.51.100.7")
    wrong = org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]
    assert wrong["status"] == "pending"
    assert [e["code"] for e in wrong["errors"]] == ["ROUTING_RECORD_CONFLICT"]
    zone.set(site, "A", "203.0.113.10")
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    assert deployment_url(org, dep) == f"https://{site}"


def test_a_computer_domain_is_what_the_python_client_validates(org, zone, site):
    """Contract §11.2: `fqdn` body, CustomDomainData (id, computer_id, fqdn, status in its enum,
    instructions a string); once verified it wins over the desktop host."""
    computer = org.post("/api/v1/computers", {"name": "desk"}).json()
    record = attach(org, f"/api/v1/computers/{computer['id']}/domains", fqdn=f"desktop.{site}")
    assert record["computer_id"] == computer["id"] and record["fqdn"] == f"desktop.{site}"
    assert record["status"] in ("pending", "verified", "active", "failed", "removed")
    listed = org.get(f"/api/v1/computers/{computer['id']}/domains").json()
    assert set(listed) == {"data"} and [d["id"] for d in listed["data"]] == [record["id"]]
    create_dns(zone, record["dns_records"])
    org.post(f"/api/v1/computers/{computer['id']}/domains/{record['id']}/verify")
    got = org.get(f"/api/v1/computers/{computer['id']}").json()
    assert got["desktop_url"] == f"https://desktop.{site}/desktop/index.html"
    assert got["urls"]["desktop_host"].endswith(".computer.miosa.ai/desktop/index.html")


def test_a_project_domain_routes_to_its_production_deployment(org, zone, site):
    ws = org.workspace()
    project = org.project(ws["id"])
    first = deployment(org, "Site", project_id=project["id"])
    second = deployment(org, "Site Next", project_id=project["id"])
    record = attach(org, f"/api/v1/projects/{project['id']}/domains", domain=f"www.{site}")
    create_dns(zone, record["dns_records"])
    org.post(f"/api/v1/projects/{project['id']}/domains/{record['id']}/verify")
    assert deployment_url(org, first) == f"https://www.{site}"
    assert deployment_url(org, second).endswith(".miosa.app")
    org.patch(f"/api/v1/projects/{project['id']}", {"production_deployment_id": second["id"]})
    assert deployment_url(org, second) == f"https://www.{site}"
    assert deployment_url(org, first).endswith(".miosa.app")


def test_the_first_to_prove_a_name_holds_it_and_a_removed_one_needs_fresh_proof(
        org, other_org, zone, site):
    """Claiming proves nothing, so it blocks nobody: both may claim; the first to verify with its
    own TXT record holds the name, the other claim ends, and later claims get DOMAIN_CLAIMED
    without learning who holds it."""
    mine, theirs = deployment(org), deployment(other_org)
    record = attach(org, f"/api/v1/deployments/{mine['id']}/domains", domain=f"app.{site}")
    rival = attach(other_org, f"/api/v1/deployments/{theirs['id']}/domains",
                   domain=f"App.{site}.")
    assert rival["status"] == "pending"
    # The same name on the same target again is the same record; on another target, refused.
    again = org.post(f"/api/v1/deployments/{mine['id']}/domains", {"domain": f"app.{site}"})
    assert again.status_code == 200 and again.json()["data"]["id"] == record["id"]
    other_dep = deployment(org, "Other")
    moved = org.post(f"/api/v1/deployments/{other_dep['id']}/domains", {"domain": f"app.{site}"})
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "DOMAIN_IN_USE"

    # The rival's claim made the name contested: the records now include the TXT ownership one.
    record = org.get(f"/api/v1/custom-domains/{record['id']}").json()["data"]
    assert [r["required"] for r in record["dns_records"] if r["purpose"] == "ownership"] == [True]
    create_dns(zone, record["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    assert other_org.get(f"/api/v1/custom-domains/{rival['id']}").status_code == 404  # ended
    taken = other_org.post(f"/api/v1/deployments/{theirs['id']}/domains",
                           {"domain": f"app.{site}"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "DOMAIN_CLAIMED"
    assert org.slug not in taken.text and org.tenant_id not in taken.text

    # Removed: a tombstone. The other organization may claim it, but the old DNS (the first
    # organization's token) proves nothing for it: it stays pending until its own TXT exists.
    assert org.delete(f"/api/v1/deployments/{mine['id']}/domains/{record['id']}").status_code == 200
    assert deployment_url(org, mine).endswith(".miosa.app")
    claim = attach(other_org, f"/api/v1/deployments/{theirs['id']}/domains", domain=f"app.{site}")
    assert claim["status"] == "pending"
    stale = other_org.post(f"/api/v1/custom-domains/{claim['id']}/verify").json()["data"]
    assert stale["status"] == "pending"
    assert [e["code"] for e in stale["errors"]] == ["OWNERSHIP_RECORD_MISSING"]


def test_a_squatter_cannot_block_the_owner(org, other_org, zone, site, container):
    """An unproven claim by someone else, even one given up long ago, does not stop the real
    owner; and a verified organization domain ends unproven claims beneath it."""
    squat = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                   domain=f"www.{site}")
    owner_dep = deployment(org)
    mine = attach(org, f"/api/v1/deployments/{owner_dep['id']}/domains", domain=f"www.{site}")
    create_dns(zone, mine["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{mine['id']}/verify").json()["data"]["verified"]
    assert other_org.get(f"/api/v1/custom-domains/{squat['id']}").status_code == 404

    under = attach(other_org, f"/api/v1/deployments/{deployment(other_org)['id']}/domains",
                   domain=f"shop.{site}")
    wildcard = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": site}).json()
    create_dns(zone, wildcard["dns_records"])
    assert org.post("/api/v1/tenant/deployment-domain/verify").json()["verified"] is True
    assert other_org.get(f"/api/v1/custom-domains/{under['id']}").status_code == 404


def test_an_organization_domain_over_anothers_exact_domain_is_refused(org, other_org, zone,
                                                                        site):
    record = attach(org, f"/api/v1/deployments/{deployment(org)['id']}/domains",
                    domain=f"app.{site}")
    create_dns(zone, record["dns_records"], everything=True)  # proven by TXT: it blocks
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    over = other_org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": site})
    assert over.status_code == 409 and over.json()["error"]["code"] == "DOMAIN_CLAIMED"
    assert f"app.{site}" not in over.text  # never names what another organization holds


def test_a_name_too_long_for_its_challenge_record_is_422(org):
    name = ".".join(["a" * 60] * 3) + ".b" * 24 + ".com"  # 234 characters
    resp = org.post(f"/api/v1/deployments/{deployment(org)['id']}/domains", {"domain": name})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "HOSTNAME_TOO_LONG"


def test_the_flat_list_takes_both_clients_key_names(org, site):
    dep = deployment(org)
    ts = org.post("/api/v1/custom-domains", {"domain": f"a.{site}", "resource_type": "deployment",
                                             "resource_id": dep["id"]})
    go = org.post("/api/v1/custom-domains", {"fqdn": f"b.{site}", "target_type": "deployment",
                                             "target_id": dep["id"]})
    assert ts.status_code == go.status_code == 201, (ts.text, go.text)
    for body in (ts.json()["data"], go.json()["data"]):
        assert body["resource_id"] == body["target_id"] == dep["id"]
        assert body["status"] == body["state"] == "pending"
    listed = org.get("/api/v1/custom-domains", params={"target_id": dep["id"]}).json()["data"]
    assert {d["fqdn"] for d in listed} == {f"a.{site}", f"b.{site}"}
    missing = org.post("/api/v1/custom-domains", {"domain": f"c.{site}"})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"]["field"] == "resource_type"


@pytest.mark.parametrize("bad", ["*.example.org", "x.miosa.app", "1.2.3.4", "foo.test"])
def test_bad_names_are_422(org, bad):
    dep = deployment(org)
    resp = org.post(f"/api/v1/deployments/{dep['id']}/domains", {"domain": bad})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"]["field"] == "domain"


def test_deleting_the_deployment_frees_its_names(org, other_org, site):
    dep = deployment(org)
    attach(org, f"/api/v1/deployments/{dep['id']}/domains", domain=f"gone.{site}")
    org.delete(f"/api/v1/deployments/{dep['id']}")
    theirs = deployment(other_org)
    claim = attach(other_org, f"/api/v1/deployments/{theirs['id']}/domains", domain=f"gone.{site}")
    assert claim["status"] == "pending"


def test_deleting_a_workspace_frees_the_names_inside(org, other_org, site):
    ws = org.workspace()
    project = org.project(ws["id"])
    dep = deployment(org, project_id=project["id"])
    attach(org, f"/api/v1/projects/{project['id']}/domains", domain=f"p.{site}")
    attach(org, f"/api/v1/deployments/{dep['id']}/domains", domain=f"d.{site}")
    assert org.delete(f"/api/v1/workspaces/{ws['id']}").status_code == 200
    assert org.get("/api/v1/custom-domains").json()["data"] == []
    theirs = deployment(other_org)
    for name in (f"p.{site}", f"d.{site}"):
        attach(other_org, f"/api/v1/deployments/{theirs['id']}/domains", domain=name)


def test_every_state_change_is_in_the_history(org, zone, site):
    dep = deployment(org)
    record = attach(org, f"/api/v1/deployments/{dep['id']}/domains", domain=f"h.{site}")
    org.post(f"/api/v1/custom-domains/{record['id']}/verify")  # still pending: no event
    create_dns(zone, record["dns_records"])
    org.post(f"/api/v1/custom-domains/{record['id']}/verify")
    zone.remove(f"h.{site}")
    org.post(f"/api/v1/custom-domains/{record['id']}/verify")
    create_dns(zone, record["dns_records"])
    org.post(f"/api/v1/custom-domains/{record['id']}/verify")
    org.delete(f"/api/v1/custom-domains/{record['id']}")
    history = org.get(f"/api/v1/custom-domains/{record['id']}/events").json()["data"]
    assert [(e["event"], e["from_status"], e["to_status"]) for e in history] == [
        ("created", None, "pending"), ("verified", "pending", "verified"),
        ("misconfigured", "verified", "misconfigured"), ("recovered", "misconfigured", "verified"),
        ("removed", "verified", "removed")]
    assert "h." in history[2]["detail"]


def test_organization_domain_history(org, zone, site):
    record = org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": f"apps.{site}"})
    create_dns(zone, record.json()["dns_records"])
    org.post("/api/v1/tenant/deployment-domain/verify")
    org.put("/api/v1/tenant/deployment-domain", {"deployment_domain": f"apps2.{site}"})
    history = org.get("/api/v1/tenant/deployment-domain/events").json()["data"]
    assert [(e["domain"], e["event"]) for e in history] == [
        (f"apps.{site}", "created"), (f"apps.{site}", "verified"), (f"apps.{site}", "removed"),
        (f"apps2.{site}", "created")]
