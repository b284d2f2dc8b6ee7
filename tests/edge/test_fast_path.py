"""The edge's fast path (edge/fast.py): hot requests are relayed by it, every other request
hands the connection (with the bytes already read) to uvicorn and the ASGI app, which answer as
they always did; the rules hold on both sides of the handover. A real edge server of its own
(so a test can see which protocol serves a connection, and set its limits), real sandboxes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from hostplane.api.shutdown import DrainingHttp
from hostplane.edge.app import create_edge
from hostplane.edge.fast import FastPath
from hostplane.edge.limits import OrgLimits
from hostplane.edge.serving import edge_config
from tests.conftest import _free_port
from tests.edge.helpers import SANDBOXES, preview_host, sandbox_app, via_edge


def _serving(container: Any, keep_alive: int = 30) -> Iterator[tuple[str, uvicorn.Server, Any]]:
    app = create_edge(container)
    config = edge_config(app, host="127.0.0.1", port=_free_port(), log_level="warning",
                         access_log=False)
    config.timeout_keep_alive = keep_alive
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    yield f"http://127.0.0.1:{config.port}", server, app
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def edge(container: Any, base_url: str) -> Iterator[tuple[str, uvicorn.Server, Any]]:
    yield from _serving(container)


class Client:
    """One keep-alive connection to the edge, reading one response at a time."""

    def __init__(self, url: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        self.sock.settimeout(10)
        self.pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[bytes, bytes]:
        """The next response's head and body (Content-Length or chunked)."""
        while b"\r\n\r\n" not in self.pending:
            self.pending += self._recv()
        head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        fields = dict(line.split(b": ", 1) for line in head.lower().split(b"\r\n")[1:])
        if head.startswith(b"HTTP/1.1 304"):
            return head, b""
        if b"content-length" in fields:
            size = int(fields[b"content-length"])
            while len(self.pending) < size:
                self.pending += self._recv()
            body, self.pending = self.pending[:size], self.pending[size:]
            return head, body
        body = b""
        while True:
            while b"\r\n" not in self.pending:
                self.pending += self._recv()
            line, rest = self.pending.split(b"\r\n", 1)
            size = int(line, 16)
            while len(rest) < size + 2:
                rest += self._recv()
            body, self.pending = body + rest[:size], rest[size + 2:]
            if size == 0:
                return head, body

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        assert data, "the edge closed the connection"
        return data

    def close(self) -> None:
        self.sock.close()


def protocol_of(server: uvicorn.Server, client: Client) -> type:
    port = client.sock.getsockname()[1]
    for conn in list(server.server_state.connections):
        if conn.transport.get_extra_info("peername")[1] == port:
            return type(conn)
    raise AssertionError("no such connection")


def get(host: str, path: str, extra: bytes = b"") -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path.encode(), host.encode(), extra)


def test_hot_requests_stay_on_the_fast_path_and_others_hand_over_mid_connection(org, edge):
    url, server, _ = edge
    public = sandbox_app(org, "hot")
    private = sandbox_app(org, "cold", visibility="private")
    host = preview_host(public)
    client = Client(url)
    try:
        client.send(get(host, "/a?x=1"))
        head, body = client.response()
        assert head.startswith(b"HTTP/1.1 200 OK") and body == b"hot /a?x=1"
        assert b"server:" not in head.lower()
        client.send(b"POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: 3\r\n\r\nabc"
                    % host.encode())
        assert b'"length": 3' in client.response()[1]
        assert protocol_of(server, client) is FastPath
        # A private preview: uvicorn and the ASGI app answer, on the same connection, and go on
        # answering the hot host there (each request routed by its own Host).
        client.send(get(preview_host(private), "/"))
        head, body = client.response()
        assert head.startswith(b"HTTP/1.1 401") and b"PREVIEW_PRIVATE" in body
        assert protocol_of(server, client) is DrainingHttp  # uvicorn's httptools protocol
        client.send(get(host, "/c"))
        assert client.response()[1] == b"hot /c"
    finally:
        client.close()


def test_pipelined_hot_and_cold_requests_are_answered_in_order(org, edge):
    url, server, _ = edge
    host = preview_host(sandbox_app(org, "pipe"))
    client = Client(url)
    try:
        client.send(get(host, "/1") + get(host, "/2") + get("nobody.miosa.ai", "/3")
                    + get(host, "/4"))
        assert client.response()[1] == b"pipe /1"
        assert client.response()[1] == b"pipe /2"
        head, body = client.response()
        assert head.startswith(b"HTTP/1.1 404") and b"HOST_NOT_FOUND" in body
        assert client.response()[1] == b"pipe /4"
    finally:
        client.close()


def test_smuggling_after_a_hot_request_is_refused_before_the_sandbox_sees_it(org, edge):
    url, _, _ = edge
    host = preview_host(sandbox_app(org, "smuggled"))
    client = Client(url)
    try:
        client.send(get(host, "/count") + (
            b"POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /count HTTP/1.1\r\nHost: %s\r\n\r\n"
            % (host.encode(), host.encode())))
        assert client.response()[1] == b"1"
        assert client.response()[0].startswith(b"HTTP/1.1 400")
    finally:
        client.close()
    assert via_edge(url, host, "/count").text == "2"  # the smuggled request never arrived


def test_a_stopped_sandbox_is_never_served_from_a_hot_connection(org, edge):
    url, server, _ = edge
    sandbox = sandbox_app(org, "fresh")
    host = preview_host(sandbox)
    client = Client(url)
    try:
        client.send(get(host, "/", b"Accept: application/json\r\n"))
        assert client.response()[1] == b"fresh /"
        assert org.post(f"{SANDBOXES}/{sandbox['id']}/stop").status_code == 200
        client.send(get(host, "/", b"Accept: application/json\r\n"))
        head, body = client.response()
        assert head.startswith(b"HTTP/1.1 503") and b"SANDBOX_STOPPED" in body
    finally:
        client.close()


def test_the_limits_hold_on_the_fast_path(org, edge):
    url, _, app = edge
    host = preview_host(sandbox_app(org, "limited"))
    kept = app.limits
    app.limits = OrgLimits(max_open=1000, per_second=0.001)  # a burst of 1, then none
    try:
        client = Client(url)
        client.send(get(host, "/", b"Accept: application/json\r\n"))
        assert client.response()[1] == b"limited /"
        client.send(get(host, "/", b"Accept: application/json\r\n"))
        head, body = client.response()
        assert head.startswith(b"HTTP/1.1 429") and b"RATE_LIMITED" in body
        client.close()
    finally:
        app.limits = kept


def test_the_sandbox_sees_an_origin_form_target_and_our_forwarding_headers(org, edge):
    url, server, _ = edge
    host = preview_host(sandbox_app(org, "target"))
    client = Client(url)
    try:
        client.send(b"GET http://elsewhere.example/headers?a=1 HTTP/1.1\r\nHost: %s\r\n"
                    b"X-Forwarded-For: 6.6.6.6\r\nConnection: keep-alive, X-Secret\r\n"
                    b"X-Secret: 1\r\n\r\n" % host.encode())
        seen = json.loads(client.response()[1])
        assert seen["request"] == "GET /headers?a=1 HTTP/1.1"
        names = {k.lower(): v for k, v in seen["headers"]}
        assert names["x-forwarded-for"] == "127.0.0.1" and names["host"] == "localhost:5173"
        assert "x-secret" not in names and "connection" not in names
        assert protocol_of(server, client) is FastPath
        # An absolute form without a path is not the fast path's to judge.
        client.send(b"GET http://elsewhere.example HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        assert client.response()[0].startswith(b"HTTP/1.1 400")
    finally:
        client.close()


def test_a_burst_of_new_visitors_waits_for_connections_instead_of_being_refused(org, edge):
    url, _, _ = edge
    host = preview_host(sandbox_app(org, "burst")).encode()
    port = int(url.rsplit(":", 1)[1])

    async def visit() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n" % host)
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        return head.split(b"\r\n", 1)[0]

    async def burst() -> list[bytes]:
        return await asyncio.gather(*(visit() for _ in range(48)))  # 3× the connects at once

    assert set(asyncio.run(burst())) == {b"HTTP/1.1 200 OK"}


def test_every_waiting_visitor_hears_that_nothing_listens(org, edge):
    url, _, _ = edge
    host = preview_host(sandbox_app(org, "closed"), port=5999).encode()  # nothing listens there
    port = int(url.rsplit(":", 1)[1])

    async def visit() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n\r\n" % host)
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(int(head.lower().split(b"content-length: ")[1]
                                            .split(b"\r\n")[0]))
        writer.close()
        return json.loads(body)["error"]["code"].encode()

    async def burst() -> list[bytes]:
        return await asyncio.wait_for(asyncio.gather(*(visit() for _ in range(12))), 30)

    assert set(asyncio.run(burst())) == {b"PORT_NOT_LISTENING"}


def test_a_silent_connection_is_closed_after_the_keep_alive_timeout(org, container, base_url):
    host = preview_host(sandbox_app(org, "quiet"))
    serving = _serving(container, keep_alive=1)
    url, _, _ = next(serving)
    try:
        answered, halfway = Client(url), Client(url)
        answered.send(get(host, "/"))
        assert answered.response()[1] == b"quiet /"
        halfway.send(b"GET / HTTP/1.1\r\nHost: ")  # and then nothing
        time.sleep(2.5)
        for client in (answered, halfway):
            assert client.sock.recv(1) == b""  # closed by the edge
            client.close()
    finally:
        next(serving, None)  # the server stops


def test_deployment_files_are_answered_by_the_fast_path_as_the_asgi_app_answers_them(org, edge):
    from tests.edge.test_deployments import SCRIPT, fallback, published

    url, server, _ = edge
    dep, _ = published(org, files=[("index.html", b"<h1>v1</h1>"), ("app.js", SCRIPT),
                                   ("style.css", b"body{}")])
    host = fallback(org, dep).encode()
    asked = [b"/style.css", b"/", b"/app.js", b"/index.html?x=1"]
    extras = [b"", b"Accept-Encoding: gzip\r\n", b"Accept-Encoding: identity\r\n"]

    def answers(client: Client) -> list[tuple[bytes, bytes]]:
        seen = []
        for path in asked:
            for extra in extras:
                client.send(b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, extra))
                head, body = client.response()
                seen.append((b"\r\n".join(line for line in head.split(b"\r\n")
                                          if not line.lower().startswith(b"date:")), body))
        return seen

    cold = Client(url)  # the first request of a version: the ASGI app (which caches it)
    hot = Client(url)
    try:
        cold.send(get(host.decode(), "/nope.html"))
        cold.response()
        assert protocol_of(server, cold) is DrainingHttp
        expected = answers(cold)
        assert answers(hot) == expected
        assert protocol_of(server, hot) is FastPath
        assert expected[3][0].startswith(b"HTTP/1.1 200") and b"content-encoding: gzip" \
            in expected[7][0] and expected[7][1] != SCRIPT
        etag = dict(line.split(b": ", 1) for line in expected[0][0].split(b"\r\n")[1:])[b"etag"]
        hot.send(b"GET /style.css HTTP/1.1\r\nHost: %s\r\nIf-None-Match: %s\r\n\r\n"
                 % (host, etag))
        head, body = hot.response()
        assert head.startswith(b"HTTP/1.1 304") and body == b""
        assert protocol_of(server, hot) is FastPath
        hot.send(b"GET /app.js HTTP/1.1\r\nHost: %s\r\nRange: bytes=0-9\r\n\r\n" % host)
        head, body = hot.response()  # a Range: the ASGI app's
        assert head.startswith(b"HTTP/1.1 206") and body == SCRIPT[:10]
        assert protocol_of(server, hot) is DrainingHttp
    finally:
        cold.close()
        hot.close()
