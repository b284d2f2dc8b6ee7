"""Whether an address is on the public internet: the rule for every URL the platform fetches
on a tenant's behalf (branding images; later webhooks)."""

from __future__ import annotations

import ipaddress

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
