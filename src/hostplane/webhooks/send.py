"""One signed POST to an endpoint, with the wallpaper fetcher's address rules: https to a public
address (plain http and loopback only when the operator allows it, as tests do), the address
checked is the one connected to, no redirects followed, a short deadline."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from hostplane.addresses import is_public, pinned_url, resolve_allowed

log = logging.getLogger("hostplane.webhooks")

TIMEOUT = 10.0  # per connect or read
DEADLINE = 15.0  # for the whole attempt
ANSWER_BYTES = 4096  # of the endpoint's answer, read and thrown away
USER_AGENT = "Webhooks/1.0"  # names no product: the endpoint belongs to a customer


@dataclass(frozen=True)
class Sent:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature_headers(body: bytes, secrets: list[str], event_id: str, now: int) -> dict[str, str]:
    """`X-MIOSA-Signature: sha256=<hex>` over the body (what the official client verifies), and
    `Webhook-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` over `t.body` for replay protection, one
    v1 per live secret while a rotation overlaps (the current one last). `secrets[0]` is the
    current secret."""
    def mac(secret: str, data: bytes) -> str:
        return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()

    stamped = f"{now}.".encode() + body
    # The current secret's v1 last: the official client's verify_signature reads the last one.
    return {"X-MIOSA-Signature": f"sha256={mac(secrets[0], body)}",
            "Webhook-Signature": ",".join([f"t={now}",
                                           *(f"v1={mac(s, stamped)}" for s in secrets[::-1])]),
            "Webhook-Id": event_id, "Webhook-Timestamp": str(now)}


def post(url: str, body: bytes, headers: dict[str, str], *, allow_loopback: bool) -> Sent:
    """Send once, within DEADLINE seconds in all, however slowly the endpoint answers (httpx's
    timeouts are per read: an endpoint dribbling a byte at a time would hold a thread forever).
    What it answers is read to at most ANSWER_BYTES and thrown away."""
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> Sent:
        return Sent(status, error, int((time.monotonic() - started) * 1000))

    refused = url_problem(url, allow_loopback=allow_loopback)
    if refused:
        return done(None, refused)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    def allowed(address: str) -> bool:
        return is_public(address) or (allow_loopback and ipaddress.ip_address(address).is_loopback)

    try:
        address = resolve_allowed(parts.hostname or "", port, allowed)
    except ValueError as exc:
        log.info("webhook to %s refused: %s", parts.hostname, exc)
        # One message for every refusal: which names resolve, and to what, stays with the
        # operator's log (a tenant must not map the platform's network through it).
        return done(None, "the endpoint's address is not allowed or does not resolve")
    pinned = pinned_url(parts, address)
    headers = {**headers, "Host": parts.netloc, "Content-Type": "application/json",
               "User-Agent": USER_AGENT}
    try:
        status = asyncio.run(asyncio.wait_for(
            _send(pinned, body, headers, parts.hostname or ""), DEADLINE))
    except (asyncio.TimeoutError, TimeoutError):
        return done(None, f"the endpoint did not answer within {DEADLINE:.0f} s")
    except httpx.HTTPError as exc:
        return done(None, f"{type(exc).__name__}: the endpoint did not answer")
    if not 200 <= status < 300:
        return done(status, f"the endpoint answered HTTP {status}")
    return done(status, None)


async def _send(pinned: str, body: bytes, headers: dict[str, str], hostname: str) -> int:
    # trust_env off: a proxy from the environment would connect somewhere else than the
    # address just checked.
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False,
                                 trust_env=False) as client, \
            client.stream("POST", pinned, content=body, headers=headers,
                          extensions={"sni_hostname": hostname}) as response:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= ANSWER_BYTES:
                break
        return response.status_code


def url_problem(url: str, *, allow_loopback: bool) -> str | None:
    """Why `url` may not receive webhooks (None: it may), by its text alone."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "the URL must be https://host/path"
    if parts.username or parts.password:
        return "the URL may not carry a user name or password"
    if parts.scheme == "http" and not (allow_loopback and _is_loopback_name(parts.hostname)):
        return "plain http is not allowed: use https"
    return None


def _is_loopback_name(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
