"""GET /internal/tls/ask: may the TLS proxy in front of the edge get a certificate for a name?

Caddy's on-demand TLS asks this before it obtains a certificate for a name it has never seen
(`on_demand_tls { ask … }`, written by `hostplane caddyfile`), and reads only the status: 200
means "get one", anything else means "refuse the handshake". Without the check anyone could point
DNS at the platform and make it request certificates for arbitrary names until the CA's rate
limits lock the platform out.

- The caller must be within HOSTPLANE_TLS_ASK_ALLOW (default loopback only). From anywhere else
  the route answers exactly like a route that does not exist (404): outsiders learn nothing.
- 200 exactly when the name routes right now (the edge's own resolver: a verified exact domain,
  an existing sandbox port on a platform or verified organization preview domain, a deployment
  at the managed fallback or a verified deployment domain, a desktop); else 403. A name that is
  not a DNS name is 403 too.
- Indexed lookups only and no DNS query, so a flood of handshakes costs the database little.
- Fails closed: any error is 403. Not in the OpenAPI document: no API client calls it.
"""

from __future__ import annotations

import functools
import ipaddress
import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from hostplane.api.container import Container
from hostplane.api.deps import container_of
from hostplane.edge.routes import NoTarget, canonical_host, resolve

log = logging.getLogger("hostplane.api.tls")
router = APIRouter(include_in_schema=False)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def networks(allow: str) -> tuple[Network, ...]:
    """HOSTPLANE_TLS_ASK_ALLOW as networks (a comma list of CIDRs or single addresses)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in allow.split(",") if part.strip())


def allowed(address: str | None, allow: str) -> bool:
    """Whether a peer address is within the allowed networks. Unknown, unparsable addresses
    and a setting that does not parse are refused."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        within = networks(allow)
    except ValueError:
        return False
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
    mapped = getattr(ip, "ipv4_mapped", None)
    return any(ip in net or (mapped is not None and mapped in net) for net in within)


def routes_now(container: Container, domain: str) -> bool:
    """Whether the edge would serve `domain` now (no cache: a name verified a moment ago counts,
    and one removed a moment ago does not)."""
    host = canonical_host(domain)
    if host is None:
        return False
    with container.database.transaction(write=False) as session:
        return not isinstance(resolve(session, container.platform, host), NoTarget)


@router.get("/internal/tls/ask")
async def ask(request: Request, domain: str = "") -> Response:
    container = container_of(request)
    peer = request.client.host if request.client else None
    if not allowed(peer, container.settings.tls_ask_allow):
        raise HTTPException(404)
    try:
        ok = await run_in_threadpool(routes_now, container, domain)
    except Exception:
        log.exception("TLS ask for %r failed; refusing", domain[:300])
        ok = False
    return Response(status_code=200 if ok else 403)
