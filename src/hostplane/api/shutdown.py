"""Graceful stop. On SIGTERM uvicorn stops taking connections and asks each open one to shut
down; requests in flight then have HOSTPLANE_SHUTDOWN_GRACE_SEC to finish. Responses that never
finish by themselves (server-sent events) would hold the stop until that deadline and then be
cut, so the first connection asked to shut down sets the container's `stopping` flag: event
streams and relayed event streams end at once, cleanly, and their clients reconnect (with
Last-Event-ID) to a process that is still serving. WebSockets are closed by uvicorn itself with
1012 (service restart), which the edge passes on to the sandbox."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("hostplane")


def stopping_of(app: Any) -> threading.Event | None:
    """The `stopping` flag of the container behind an ASGI app (through uvicorn's and our
    middleware wrappers): the API's (app.state.container) or the edge's (edge.container)."""
    for _ in range(32):
        if app is None:
            return None
        container = getattr(app, "container", None) or \
            getattr(getattr(app, "state", None), "container", None)
        if container is not None and isinstance(getattr(container, "stopping", None),
                                                threading.Event):
            return container.stopping  # type: ignore[no-any-return]
        app = getattr(app, "app", None) or getattr(app, "middleware_stack", None)
    return None


def begin(app: Any) -> None:
    flag = stopping_of(app)
    if flag is not None:
        flag.set()


class DrainingHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol, which also tells the app that the server is stopping."""

    def shutdown(self) -> None:
        begin(self.app)
        super().shutdown()


def exit_zero_on_sigterm() -> None:
    """SIGTERM before the server runs, or re-raised by uvicorn once it has stopped gracefully,
    ends the process with status 0 (a stop that was asked for is not a failure)."""
    def stopped(_sig: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stopped)


@contextlib.contextmanager
def leaving() -> Iterator[None]:
    """Run a server; when it has stopped (also when uvicorn re-raises the SIGTERM it stopped
    for), `leave` with the status the process would have ended with."""
    status = 1
    try:
        yield
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    finally:
        leave(status)


def leave(status: int = 0, settle: float = 0.5) -> None:
    """After the server stopped: a request cut at the deadline may still hold a thread (a
    command in a sandbox, a slow file transfer) that the interpreter would wait for at exit.
    Give such threads a moment, then end the process anyway, with `status`."""
    deadline = time.monotonic() + settle
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0))
    held = [t.name for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if held:
        log.warning("exiting with %d thread(s) of requests cut at the deadline still busy",
                    len(held))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
