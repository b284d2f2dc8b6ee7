"""DNS checks over the resolver port (a dict-backed fake: pure logic only; the real resolver and a
real DNS server are in the API and worker tests) and the status a check leads to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hostplane.domains.resolver import Answer, DnsResolver
from hostplane.domains.verification import (
    after_check,
    exact_records,
    ownership_token,
    run_checks,
)

NOW = datetime(2026, 11, 28, tzinfo=UTC)


class FakeResolver:
    def __init__(self, answers: dict[tuple[str, str], Answer], default: Answer) -> None:
        self.answers, self.default = answers, default

    async def lookup(self, name: str, rdtype: str) -> Answer:
        return self.answers.get((name, rdtype), self.default)


def test_a_dns_outage_is_inconclusive_not_missing():
    records = exact_records("t1", "app.example.org", proxy="proxy.miosa.ai",
                            challenge_label="_hostplane-challenge")
    outage = asyncio.run(run_checks(FakeResolver({}, Answer((), "DNS_UNREACHABLE: Timeout")),
                                    records))
    assert outage.inconclusive and not outage.verified
    assert {e["code"] for e in outage.errors()} == {"DNS_UNREACHABLE"}  # one per record
    assert outage.errors()[0]["actor"] == "platform"
    # A verified domain stays verified through an outage, and is asked again soon.
    status, next_check = after_check("verified", False, NOW - timedelta(days=30), NOW,
                                     explicit=False, inconclusive=True)
    assert status == "verified" and next_check - NOW <= timedelta(minutes=5)
    gone = asyncio.run(run_checks(FakeResolver({}, Answer((), "NXDOMAIN")), records))
    assert not gone.inconclusive
    assert after_check("verified", False, NOW, NOW, explicit=False)[0] == "misconfigured"


@pytest.mark.parametrize(("age", "explicit", "status", "wait"), [
    (timedelta(0), False, "pending", timedelta(minutes=1)),
    (timedelta(hours=1), False, "pending", timedelta(minutes=7.5)),
    (timedelta(days=2), False, "pending", timedelta(hours=4)),
    (timedelta(days=7), False, "failed", None),
    (timedelta(days=8), True, "pending", timedelta(minutes=1)),
])
def test_pending_backoff(age, explicit, status, wait):
    got_status, next_check = after_check("pending", False, NOW - age, NOW, explicit=explicit)
    assert got_status == status
    assert (next_check - NOW if next_check else None) == wait


def test_tokens_are_per_organization_and_name_and_stable():
    assert ownership_token("a", "x.com") == ownership_token("a", "x.com")
    assert len({ownership_token("a", "x.com"), ownership_token("b", "x.com"),
                ownership_token("a", "y.com")}) == 3


def test_nameserver_entries_must_agree_on_a_port():
    assert DnsResolver(["127.0.0.1:5353"])._resolver.port == 5353
    with pytest.raises(ValueError, match="one port"):
        DnsResolver(["127.0.0.1:5353", "127.0.0.2:53"])


def test_the_ownership_record_is_required_only_as_judged_and_old_tokens_still_prove_it():
    """Routing alone verifies once ownership is judged not required; the TXT token names no
    product, and a token handed out with the old prefix still proves ownership."""
    records = exact_records("t1", "app.example.org", proxy="proxy.miosa.ai",
                            challenge_label="_verify")
    token = ownership_token("t1", "app.example.org")
    assert token.startswith("domain-verification=") and "hostplane" not in token
    cname = {("app.example.org", "CNAME"): Answer(("proxy.miosa.ai",))}
    routed = asyncio.run(run_checks(FakeResolver(cname, Answer(())), records))
    assert not routed.verified and routed.proof == "routing"
    assert routed.judged(contested=False, held=False).verified
    assert not routed.judged(contested=True, held=False).verified
    assert routed.judged(contested=True, held=True).verified
    old = "hostplane-verification=" + token.removeprefix("domain-verification=")
    both = asyncio.run(run_checks(FakeResolver(
        {**cname, ("_verify.app.example.org", "TXT"): Answer((old,))}, Answer(())), records))
    assert both.verified and both.proof == "ownership"
