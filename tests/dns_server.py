"""A real DNS server on loopback for tests: UDP and TCP, authoritative answers from a dict.

Records are (name, type) → values; a name `*.x` answers any name under `x` that has no record of
its own (with the asked name as owner, as real wildcards do). CNAMEs are answered for any type, so
resolvers follow them. Tests change records while it runs: `server.set(...)`, `server.remove(...)`.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 1


class Zone:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], list[str]] = {}
        self._types: dict[str, set[str]] = {}  # owner name → its record types
        self._lock = threading.Lock()

    def set(self, name: str, rdtype: str, *values: str) -> None:
        owner = name.lower().rstrip(".")
        with self._lock:
            self._records[(owner, rdtype.upper())] = list(values)
            self._types.setdefault(owner, set()).add(rdtype.upper())

    def remove(self, name: str, rdtype: str | None = None) -> None:
        owner = name.lower().rstrip(".")
        with self._lock:
            for kind in list(self._types.get(owner, ())):
                if rdtype is None or kind == rdtype.upper():
                    self._records.pop((owner, kind), None)
                    self._types[owner].discard(kind)
            if not self._types.get(owner):
                self._types.pop(owner, None)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._types.clear()

    def lookup(self, name: str, rdtype: str) -> tuple[str, list[str]] | None:
        """(the type answered, values) for `name`, trying its own records, then wildcards."""
        with self._lock:
            owners = [name] + ["*." + name.split(".", i + 1)[-1]
                               for i in range(name.count("."))]
            for owner in owners:
                if owner in self._types:
                    for answer_type in (rdtype, "CNAME"):
                        values = self._records.get((owner, answer_type))
                        if values:
                            return answer_type, values
                    return None  # the name exists, but not with this type
        return None

    def exists(self, name: str) -> bool:
        """The name has records, or names under it do, or a wildcard covers it (else NXDOMAIN)."""
        with self._lock:
            if name in self._types or "*." + name.split(".", 1)[-1] in self._types:
                return True
            return any(owner.endswith("." + name) for owner in self._types)


def _answer(zone: Zone, wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    for question in query.question:
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        found = zone.lookup(name, rdtype)
        if found is None:
            if not zone.exists(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
            continue
        answer_type, values = found
        rdatas = [dns.rdata.from_text(dns.rdataclass.IN, answer_type, v) for v in values]
        response.answer.append(dns.rrset.from_rdata_list(question.name, TTL, rdatas))
    return response.to_wire()


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(_answer(self.server.zone, data), self.client_address)  # type: ignore[attr-defined]


class _Tcp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        length = int.from_bytes(self.request.recv(2), "big")
        data = b""
        while len(data) < length:
            chunk = self.request.recv(length - len(data))
            if not chunk:
                return
            data += chunk
        reply = _answer(self.server.zone, data)  # type: ignore[attr-defined]
        self.request.sendall(len(reply).to_bytes(2, "big") + reply)


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def dns_server() -> Iterator[tuple[Zone, str]]:
    """Serve a new zone on 127.0.0.1 (one port, UDP and TCP); yields (zone, "127.0.0.1:port")."""
    zone = Zone()
    for _ in range(20):  # find a port free for both protocols
        udp = _UdpServer(("127.0.0.1", 0), _Udp)
        port = udp.server_address[1]
        try:
            tcp = _TcpServer(("127.0.0.1", port), _Tcp)
            break
        except OSError:
            udp.server_close()
    else:
        raise RuntimeError("no port free for both UDP and TCP")
    for server in (udp, tcp):
        server.zone = zone  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield zone, f"127.0.0.1:{port}"
    finally:
        for server in (udp, tcp):
            server.shutdown()
            server.server_close()


__all__ = ["Zone", "dns_server"]
