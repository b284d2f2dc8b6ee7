"""The worker re-checks domains against real DNS (a loopback server) on a fake clock: pending ones
verify once their records appear, verified ones that lose DNS become misconfigured and stop
winning, and pending ones are given up after seven days."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hostplane.worker.runner import JOBS
from tests.api.test_spec_example import create_dns


def run_worker(container) -> int:
    """Passes until nothing is due (other tests' domains share the database; a pass takes a
    batch at a time)."""
    total = 0
    for _ in range(100):
        done = JOBS["recheck_domains"](container)  # the worker's job, alone (no outside fetches)
        total += done
        if done == 0:
            return total
    raise AssertionError("domains stay due pass after pass")


def test_pending_domains_verify_when_their_dns_appears(org, container, zone):
    site = f"w{uuid.uuid4().hex[:10]}.com"
    dep = org.post("/api/v1/deployments", {"name": "Lead Magnet"}).json()["data"]
    record = org.post(f"/api/v1/deployments/{dep['id']}/domains",
                      {"domain": f"program.{site}"}).json()["data"]
    assert run_worker(container) >= 1
    assert org.get(f"/api/v1/custom-domains/{record['id']}").json()["data"]["status"] == "pending"
    create_dns(zone, record["dns_records"])
    container.clock.advance(seconds=3600)  # past the backoff
    run_worker(container)
    got = org.get(f"/api/v1/custom-domains/{record['id']}").json()["data"]
    assert got["status"] == "verified" and got["next_check_at"]
    assert org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]["url"] == (
        f"https://program.{site}")

    # DNS removed after verification: the daily re-check notices and the URL falls back.
    zone.remove(f"program.{site}")
    container.clock.advance(seconds=86400 + 60)
    run_worker(container)
    got = org.get(f"/api/v1/custom-domains/{record['id']}").json()["data"]
    assert got["state"] == "misconfigured"
    assert org.get(f"/api/v1/deployments/{dep['id']}").json()["data"]["url"].endswith(".miosa.app")


def test_an_organization_domain_is_rechecked_too(org, container, zone):
    dom = f"w{uuid.uuid4().hex[:10]}.dev"
    record = org.put("/api/v1/tenant/preview-domain", {"preview_domain": dom}).json()
    create_dns(zone, record["dns_records"])
    run_worker(container)
    assert org.get("/api/v1/tenant/preview-domain").json()["status"] == "verified"


def test_pending_domains_are_given_up_after_seven_days(org, container):
    site = f"w{uuid.uuid4().hex[:10]}.com"
    dep = org.post("/api/v1/deployments", {"name": "Never"}).json()["data"]
    record = org.post(f"/api/v1/deployments/{dep['id']}/domains",
                      {"domain": f"never.{site}"}).json()["data"]
    run_worker(container)
    first = org.get(f"/api/v1/custom-domains/{record['id']}").json()["data"]["next_check_at"]
    assert first is not None
    container.clock.advance(timedelta(days=8).total_seconds())
    run_worker(container)
    got = org.get(f"/api/v1/custom-domains/{record['id']}").json()["data"]
    assert got["status"] == "failed" and got["next_check_at"] is None
    # The owner can still ask again: an explicit verify re-arms it.
    again = org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]
    assert again["status"] == "pending" and again["next_check_at"] is not None


def test_two_organizations_proving_one_name_in_one_pass_end_with_one_holder(
        org, other_org, container, zone):
    """Both claims have their TXT record (a name can carry several): the worker stores each
    organization's batch in turn; the first holds the name and the other claim ends, with an
    event in its own history."""
    name = f"both.w{uuid.uuid4().hex[:10]}.com"
    records = []
    for who in (org, other_org):
        dep = who.post("/api/v1/deployments", {"name": "Site"}).json()["data"]
        records.append(who.post(f"/api/v1/deployments/{dep['id']}/domains",
                                {"domain": name}).json()["data"])
    create_dns(zone, records[0]["dns_records"])
    zone.set(f"_hostplane-challenge.{name}", "TXT", *[
        f'"{r["value"]}"' for record in records for r in record["dns_records"]
        if r["purpose"] == "ownership"])
    run_worker(container)
    states = [who.get(f"/api/v1/custom-domains/{r['id']}") for who, r in
              zip((org, other_org), records, strict=True)]
    assert sorted(s.status_code for s in states) == [200, 404]
    winner = next(s for s in states if s.status_code == 200)
    assert winner.json()["data"]["status"] == "verified"
    loser_org, loser = next((who, r) for who, r, s in zip((org, other_org), records, states,
                                                          strict=True) if s.status_code == 404)
    history = loser_org.get(f"/api/v1/custom-domains/{loser['id']}/events").json()["data"]
    assert (history[-1]["from_status"], history[-1]["to_status"]) == ("pending", "removed")
