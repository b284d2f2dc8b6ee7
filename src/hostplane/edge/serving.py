"""Running the edge under uvicorn: its settings, and a server that runs beside the API's."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from hostplane.api.shutdown import DrainingHttp
from hostplane.edge.fast import FastPath
from hostplane.edge.websocket import MAX_MESSAGE, MAX_QUEUE


def edge_config(app: Any, *, host: str, port: int, log_level: str, access_log: bool,
                workers: int = 1, grace: float | None = None) -> uvicorn.Config:
    """llhttp for requests, no Server header (end users never learn what serves them), our own
    X-Forwarded-* handling, WebSockets through `websockets`. The Date header is the app's own on
    relayed responses and the edge's on its pages and files (uvicorn's would be a second one).
    Connections start on the fast path (edge/fast.py), unless every request is to be logged: the
    access log is uvicorn's. `grace`: seconds requests in flight get to finish when the
    server stops (api/shutdown.py)."""
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=access_log,
        http=DrainingHttp if access_log else FastPath, ws="websockets-sansio", server_header=False, date_header=False,
        proxy_headers=False,
        lifespan="on", factory=isinstance(app, str), workers=workers,
        ws_max_size=MAX_MESSAGE, ws_max_queue=MAX_QUEUE, ws_ping_interval=None, timeout_keep_alive=30,
        timeout_graceful_shutdown=grace)


class CompanionServer(uvicorn.Server):
    """A server that leaves signals to the one it runs beside (`hostplane serve`)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket other edge processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
