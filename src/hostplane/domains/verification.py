"""What DNS a domain needs, and whether DNS has it: pure planning plus checks over the resolver port.

Two proofs: routing (CNAMEs to the platform's proxy) and ownership (a TXT record holding a token
only this organization gets for this name). A shared CNAME target proves routing, never ownership,
so ownership is required whenever another organization holds, has held or claims the name or one
around it (claims.contested); a name nobody else has touched verifies by routing alone, as the
spec's DNS tables list it. Wildcards are checked by resolving a random label under them.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from hostplane.domains.resolver import Answer, Resolver

ROUTING, OWNERSHIP, CERTIFICATE = "routing", "ownership", "certificate"
# Not a record to create: whether DNS routes every name beside this one to us (a wildcard on its
# parent), in which case routing proves nothing about this name in particular.
PROBE = "probe"
OK, MISSING, CONFLICT, UNKNOWN = "ok", "missing", "conflict", "unknown"


@dataclass(frozen=True)
class Expected:
    """One record the user must create. `name` is fully qualified (may start with "*."), `host`
    is what a DNS provider's form takes, relative to the zone (approximated as the last two
    labels of the domain)."""

    purpose: str
    type: str
    name: str
    host: str
    value: str
    required: bool = True


@dataclass(frozen=True)
class Check:
    expected: Expected
    status: str  # ok | missing | conflict
    observed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == OK


@dataclass(frozen=True)
class Outcome:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def verified(self) -> bool:
        return all(c.ok for c in self.checks if c.expected.required)

    @property
    def inconclusive(self) -> bool:
        """DNS did not answer (timeout, SERVFAIL): nothing is known, nothing should change."""
        return any(c.status == UNKNOWN for c in self.checks if c.expected.required)

    def judged(self, *, contested: bool, held: bool) -> Outcome:
        """The same checks, with the ownership record required or not, decided when the result
        is stored, under the zone's lock, from who else is near the name at that moment: needed
        when the name's zone is contested or DNS routes its siblings to us as well; never for a
        name this organization already holds (it loses it only to a rival's TXT proof, never
        to a rival's claim)."""
        required = not held and (contested or self.wildcard_routed)
        return Outcome(tuple(
            replace(c, expected=replace(c.expected, required=required))
            if c.expected.purpose == OWNERSHIP else c for c in self.checks))

    @property
    def wildcard_routed(self) -> bool:
        """DNS sends a random name beside this one to the proxy too (a wildcard above it)."""
        return any(c.ok for c in self.checks if c.expected.purpose == PROBE)

    @property
    def proof(self) -> str:
        """What a verified outcome proved: `ownership` when its TXT record was there too."""
        return OWNERSHIP if any(c.ok for c in self.checks
                                if c.expected.purpose == OWNERSHIP) else ROUTING

    def store(self, record: Any, now: datetime) -> None:
        """Write what the check saw onto a domain record (organization or exact domain alike)."""
        record.ownership_required = any(c.expected.required for c in self.checks
                                        if c.expected.purpose == OWNERSHIP)
        record.checks = [{"purpose": c.expected.purpose, "type": c.expected.type,
                          "name": c.expected.name, "status": c.status,
                          "observed": list(c.observed)} for c in self.checks]
        record.last_checked_at = now
        record.failure_reason = "; ".join(p["message"] for p in self.errors())[:500] or None

    def errors(self) -> list[dict[str, str]]:
        """What is wrong, and who must change what (always the domain's owner, in their DNS)."""
        found = []
        for check in self.checks:
            if check.ok or not check.expected.required:
                continue
            e = check.expected
            if check.status == UNKNOWN:
                found.append({"code": "DNS_UNREACHABLE", "message": f"DNS did not answer for "
                              f"{e.name} ({', '.join(check.observed)}).", "fix": "Nothing to "
                              "change: the check is retried in a few minutes.",
                              "actor": "platform"})
                continue
            what = "has no such record" if check.status == MISSING else (
                f"answers {', '.join(check.observed)}")
            how = (f"an ALIAS/ANAME (or CNAME flattening) for {e.host} to {e.value}, or the A "
                   f"records of {e.value}" if e.type == "ALIAS" else f"{e.type} {e.host} to {e.value}")
            found.append({
                "code": f"{e.purpose.upper()}_RECORD_{check.status.upper()}",
                "message": f"{e.type} {e.name} {what}.",
                "fix": f"In the DNS of {zone_of(e.name.lstrip('*.'))}, set {how}"
                       + (" (replace what is there)." if check.status == CONFLICT else "."),
                "actor": "customer",
            })
        return found


def ownership_token(tenant_id: str, name: str) -> str:
    """Stable for this organization and name: removing and re-adding the domain keeps it. The
    customer sees it in their DNS, so it names no product (see LEGACY_TOKEN_PREFIX)."""
    digest = hashlib.sha256(f"hostplane-domain:{tenant_id}:{name}".encode()).hexdigest()
    return f"{TOKEN_PREFIX}{digest[:40]}"


TOKEN_PREFIX = "domain-verification="
# Tokens handed out before the neutral prefix: DNS that holds one still proves ownership.
LEGACY_TOKEN_PREFIX = "hostplane-verification="


def _holds_token(values: tuple[str, ...], token: str) -> bool:
    legacy = LEGACY_TOKEN_PREFIX + token.removeprefix(TOKEN_PREFIX)
    return token in values or legacy in values


def zone_of(name: str) -> str:
    """The registrable domain, approximated as the last two labels."""
    return ".".join(name.split(".")[-2:])


def relative(name: str) -> str:
    zone = zone_of(name.lstrip("*."))
    return "@" if name == zone else name[: -len(zone) - 1]


def probe_records(name: str, proxy: str) -> list[Expected]:
    """The check that DNS does not route every sibling of `name` to the proxy (none for a zone's
    own name). Never shown as a record to create."""
    if name == zone_of(name):
        return []
    above = f"*.{name.split('.', 1)[1]}"
    return [Expected(PROBE, "CNAME", above, relative(above), proxy, required=False)]


def wildcard_records(tenant_id: str, domain: str, suffixes: list[str], *, proxy: str,
                     challenge_label: str, optional: frozenset[str] = frozenset(),
                     ownership_required: bool = True, probe: bool = False) -> list[Expected]:
    """A preview domain (suffixes `*.sandbox`, and `*` recommended only) or a deployment domain
    (`*`). Suffixes in `optional` are listed but not needed to verify."""
    records = [Expected(OWNERSHIP, "TXT", f"{challenge_label}.{domain}",
                        relative(f"{challenge_label}.{domain}"),
                        ownership_token(tenant_id, domain), required=ownership_required)]
    for suffix in suffixes:
        name = f"{suffix}.{domain}"
        records.append(Expected(ROUTING, "CNAME", name, relative(name), proxy,
                                required=suffix not in optional))
    for suffix in suffixes:
        base = name_under(suffix, domain)
        acme = f"_acme-challenge.{base}"
        delegate = hashlib.sha256(f"{tenant_id}:{base}".encode()).hexdigest()[:16]
        records.append(Expected(CERTIFICATE, "CNAME", acme, relative(acme),
                                f"{delegate}.acme.{proxy}", required=False))
    return records + (probe_records(domain, proxy) if probe else [])


def exact_records(tenant_id: str, fqdn: str, *, proxy: str, challenge_label: str,
                  ownership_required: bool = True, probe: bool = False) -> list[Expected]:
    """An exact domain: a CNAME to the proxy, or for an apex (where DNS allows no CNAME) an
    ALIAS/ANAME, or the proxy's A records, whichever the DNS provider offers; and the ownership
    TXT (needed only when the name is contested)."""
    txt = f"{challenge_label}.{fqdn}"
    records = [Expected(OWNERSHIP, "TXT", txt, relative(txt), ownership_token(tenant_id, fqdn),
                        required=ownership_required)]
    apex = fqdn == zone_of(fqdn)
    records.append(Expected(ROUTING, "ALIAS" if apex else "CNAME", fqdn, relative(fqdn), proxy))
    return records + (probe_records(fqdn, proxy) if probe else [])


def is_apex(fqdn: str) -> bool:
    return fqdn == zone_of(fqdn)


def name_under(suffix: str, domain: str) -> str:
    """The name a wildcard suffix covers: `*` → domain, `*.sandbox` → sandbox.domain."""
    rest = suffix[2:] if suffix.startswith("*.") else ""
    return f"{rest}.{domain}" if rest else domain


async def run_checks(resolver: Resolver, expected: list[Expected]) -> Outcome:
    """Every record of one domain, asked at once."""
    return Outcome(tuple(await asyncio.gather(*(_check(resolver, e) for e in expected))))


async def run_many(resolver: Resolver, plans: Sequence[Any], concurrency: int,
                   on_error: Callable[[Any], None]) -> list[Outcome | None]:
    """Each plan's checks (`plan.expected`), at most `concurrency` domains in flight; a domain
    whose check raised is None (after `on_error(plan)`), and the others go on."""
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: Any) -> Outcome | None:
        async with gate:
            try:
                return await run_checks(resolver, plan.expected)
            except Exception:
                on_error(plan)
                return None

    return list(await asyncio.gather(*(one(p) for p in plans)))


async def _check(resolver: Resolver, e: Expected) -> Check:
    # A wildcard is proven by a name nobody made on purpose.
    name = e.name.replace("*", f"hp-{secrets.token_hex(6)}", 1) if e.name.startswith("*") else e.name
    if e.type == "TXT":
        txt = await resolver.lookup(name, "TXT")
        if txt.error and txt.error != "NXDOMAIN":
            return Check(e, UNKNOWN, (txt.error,))
        return Check(e, OK if _holds_token(txt.values, e.value) else MISSING, txt.values)
    if e.type == "ALIAS":  # flattened at the apex: the name must answer with the proxy's addresses
        mine_answer, theirs_answer = await asyncio.gather(resolver.lookup(name, "A"),
                                                          resolver.lookup(e.value, "A"))
        mine, theirs = mine_answer.values, set(theirs_answer.values)
        status = OK if theirs and theirs & set(mine) else (CONFLICT if mine else MISSING)
        return Check(e, status, mine)
    cname = await resolver.lookup(name, "CNAME")
    if cname.error and cname.error != "NXDOMAIN":
        return Check(e, UNKNOWN, (cname.error,))
    if e.value in cname.values:
        return Check(e, OK, cname.values)
    if cname.values:
        return Check(e, CONFLICT, cname.values)
    addresses: Answer = await resolver.lookup(name, "A")
    return Check(e, CONFLICT if addresses.values else MISSING, addresses.values)


GIVE_UP_AFTER = timedelta(days=7)
FIRST_RETRY, MAX_RETRY = timedelta(minutes=1), timedelta(hours=4)
VERIFIED_RECHECK, MISCONFIGURED_RECHECK = timedelta(days=1), timedelta(hours=1)


def after_check(status: str, verified: bool, created_at: datetime, now: datetime, *,
                explicit: bool, inconclusive: bool = False) -> tuple[str, datetime | None]:
    """The status a check leads to, and when to check next.

    Verified: again within a day. Was verified, now failing: `misconfigured` (URLs fall back),
    checked hourly. Never verified: `pending`, retried with a backoff that grows with the
    domain's age from a minute to four hours; after seven days `failed` (no more checks until the
    owner asks). An explicit verify (the owner just changed DNS) retries after a minute.
    """
    if verified:
        return "verified", now + VERIFIED_RECHECK
    if inconclusive:  # DNS did not answer: keep what we knew, ask again soon
        return status, now + FIRST_RETRY * 5
    if status in ("verified", "misconfigured"):
        return "misconfigured", now + MISCONFIGURED_RECHECK
    age = now - created_at
    if not explicit and age >= GIVE_UP_AFTER:
        return "failed", None
    wait = FIRST_RETRY if explicit else min(MAX_RETRY, max(FIRST_RETRY, age / 8))
    return "pending", now + wait
