"""The DNS resolver port: what domain verification asks of DNS, and dnspython behind it.

Verification only reads public records, so the port is small: the values of one record type at one
name, following CNAMEs where the type is not CNAME itself. It is async, so one worker keeps many
questions in flight on one thread. Tests point it at a real DNS server on
loopback (HOSTPLANE_DNS_NAMESERVERS); production uses the system's resolvers or the ones given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.resolver


@dataclass(frozen=True)
class Answer:
    """The values found (text form, names without the trailing dot), or why there are none."""

    values: tuple[str, ...]
    error: str | None = None  # None: the name answered (perhaps with nothing of this type)


class Resolver(Protocol):
    async def lookup(self, name: str, rdtype: str) -> Answer: ...


class DnsResolver:
    """dnspython, asking `nameservers` ("host" or "host:port"), or the system's when empty."""

    def __init__(self, nameservers: list[str] | None = None, *, timeout: float = 3.0) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = [_host(entry) for entry in nameservers]
            ports = {_port(entry) for entry in nameservers}
            if len(ports) > 1:  # dnspython asks every nameserver on one port
                raise ValueError("HOSTPLANE_DNS_NAMESERVERS: all entries must use one port, "
                                 f"not {sorted(ports)}")
            self._resolver.port = ports.pop()
        self._resolver.lifetime = timeout
        self._resolver.cache = None  # a re-check must see the DNS of now

    async def lookup(self, name: str, rdtype: str) -> Answer:
        try:
            answer = await self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Answer((), "NXDOMAIN")
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            return Answer((), f"DNS_UNREACHABLE: {type(exc).__name__}")
        except dns.exception.DNSException as exc:  # a name DNS cannot ask about, and the like
            return Answer((), f"DNS_ERROR: {type(exc).__name__}")
        if answer.rrset is None:
            return Answer(())
        return Answer(tuple(_text(rdata, rdtype) for rdata in answer.rrset))


def _text(rdata: object, rdtype: str) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode(errors="replace")  # type: ignore[attr-defined]
    return rdata.to_text().rstrip(".").lower()  # type: ignore[attr-defined]


def _host(entry: str) -> str:
    """`host`, `host:port`, `ipv6` or `[ipv6]:port` → the address."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


def _port(entry: str) -> int:
    if entry.startswith("["):
        rest = entry.split("]", 1)[1]
        return int(rest[1:]) if rest.startswith(":") else 53
    return int(entry.rsplit(":", 1)[1]) if entry.count(":") == 1 else 53
