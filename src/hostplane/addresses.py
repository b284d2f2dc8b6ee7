"""Whether an address is on the public internet: the rule for every URL the platform fetches
on a tenant's behalf (branding images, webhooks), and the one way to reach such a URL at the
address that was checked."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import SplitResult, urlunsplit

# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 and 8215).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: str) -> bool:
    """A global unicast address, and for IPv6 forms that wrap an IPv4 address (mapped, 6to4,
    Teredo, NAT64), the wrapped one too: `64:ff9b::7f00:1` is loopback in disguise."""
    ip = ipaddress.ip_address(address)
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if any(net.prefixlen and ip in net for net in _NAT64):
            wrapped.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(is_public(str(inner)) for inner in wrapped if inner is not None)
    return True


class Unresolvable(ValueError):
    """The name does not resolve."""


class NotAllowed(ValueError):
    """The name resolves to an address the caller may not reach."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, a private or local address")
        self.address = address


def resolve_allowed(host: str, port: int, allowed: Callable[[str], bool]) -> str:
    """The address to connect to for `host`: every address it resolves to must pass `allowed`
    (a name with one public and one private address is refused), and the caller connects to
    the one returned, never asking DNS again (which an attacker's DNS could answer otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise Unresolvable(f"{host} does not resolve") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        if not allowed(address):
            raise NotAllowed(host, address)
    return addresses[0]


def pinned_url(parts: SplitResult, address: str) -> str:
    """`parts` with its host replaced by `address` (TLS and the Host header still name the
    host: the caller sends them)."""
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
