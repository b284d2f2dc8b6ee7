"""What the edge tests share: an app running in a sandbox, and requests to the edge by host."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

SANDBOXES = "/api/v1/sandboxes"
APP = (Path(__file__).parent / "upstream_app.py").read_text()


def wait_for(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
    return found


def sandbox_app(org: Any, name: str = "app", port: int = 5173, **body: Any) -> dict[str, Any]:
    """A sandbox running upstream_app.py on `port`."""
    resp = org.post(SANDBOXES, body)
    assert resp.status_code == 201, resp.text
    sandbox = resp.json()["data"]
    start_app(org, sandbox, name, port)
    return sandbox


def start_app(org: Any, sandbox: dict[str, Any], name: str, port: int = 5173) -> None:
    base = f"{SANDBOXES}/{sandbox['id']}"
    assert org.post(f"{base}/fs/write", {"path": "app.py", "content": APP}).status_code < 300
    resp = org.post(f"{base}/processes", {"command": f"python3 app.py {port} {name}"})
    assert resp.status_code == 201, resp.text
    wait_for(lambda: port in [p["port"] for p in
                              org.get(f"{base}/ports").json()["data"]["ports"]])


def preview_host(sandbox: dict[str, Any], port: int = 5173) -> str:
    return urlsplit(sandbox["preview_url"]).hostname.replace(  # type: ignore[union-attr]
        f"{sandbox.get('preview_port', 5173)}-", f"{port}-", 1)


def via_edge(edge_url: str, host: str, path: str = "/", *, method: str = "GET",
             **kw: Any) -> httpx.Response:
    headers = {"Host": host, **kw.pop("headers", {})}
    return httpx.request(method, edge_url + path, headers=headers, timeout=30, **kw)


def raw(edge_url: str, data: bytes, *, read_for: float = 1.0) -> bytes:
    """Bytes sent on one connection, and everything that came back within `read_for` s."""
    port = int(edge_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(data)
        sock.settimeout(read_for)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            pass
    return got


def ws_via_edge(edge_url: str, host: str, path: str, **kw: Any) -> Any:
    """A WebSocket to the edge for `host` (connect this to await it)."""
    from websockets.asyncio.client import connect

    port = int(edge_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    return connect(f"ws://{host}:{port}{path}", sock=sock, proxy=None, **kw)
