"""One signed POST to an endpoint, with the wallpaper fetcher's address rules: https to a public
address (plain http and loopback only when the operator allows it, as tests do), the address
checked is the one connected to, no redirects followed, a short deadline."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from hostplane.addresses import is_public

TIMEOUT = 10.0
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
    v1 per live secret while a rotation overlaps."""
    def mac(secret: str, data: bytes) -> str:
        return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()

    stamped = f"{now}.".encode() + body
    return {"X-MIOSA-Signature": f"sha256={mac(secrets[0], body)}",
            "Webhook-Signature": ",".join([f"t={now}",
                                           *(f"v1={mac(s, stamped)}" for s in secrets)]),
            "Webhook-Id": event_id, "Webhook-Timestamp": str(now)}


def post(url: str, body: bytes, headers: dict[str, str], *, allow_loopback: bool) -> Sent:
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> Sent:
        return Sent(status, error, int((time.monotonic() - started) * 1000))

    refused = url_problem(url, allow_loopback=allow_loopback)
    if refused:
        return done(None, refused)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = _address(parts.hostname or "", port, allow_loopback)
    except ValueError as exc:
        return done(None, str(exc))
    host = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/", parts.query, ""))
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            response = client.post(
                pinned, content=body, extensions={"sni_hostname": parts.hostname},
                headers={**headers, "Host": parts.netloc, "Content-Type": "application/json",
                         "User-Agent": USER_AGENT})
    except httpx.HTTPError as exc:
        return done(None, f"{type(exc).__name__}: the endpoint did not answer")
    if not 200 <= response.status_code < 300:
        return done(response.status_code, f"the endpoint answered HTTP {response.status_code}")
    return done(response.status_code, None)


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


def _address(host: str, port: int, allow_loopback: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise ValueError(f"{host} does not resolve") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        loopback = ipaddress.ip_address(address).is_loopback
        if not (is_public(address) or (allow_loopback and loopback)):
            raise ValueError(f"{host} resolves to {address}, a private or local address")
    return addresses[0]
