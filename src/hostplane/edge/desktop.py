"""Desktops in the browser: the edge serves a computer's viewer page (noVNC's RFB module from
Debian's /usr/share/novnc, in a page of our own titled with the organization's app name) and
bridges its WebSocket to the VNC server inside the computer: the one that takes input, or the
view-only one when the viewer's grant is view-only (resources/desktop_viewer.py). Every request
needs a grant; an open viewer is closed within REVOCATION_POLL seconds of its grant's revocation."""

from __future__ import annotations

import asyncio
import contextlib
import html
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from hostplane import errors
from hostplane.compute.desktop_agent import VNC_PORT, VNC_VIEW_ONLY_PORT
from hostplane.edge.access import local_location
from hostplane.edge.forwarding import preview_cookie
from hostplane.edge.routes import DesktopTarget
from hostplane.tenancy.principal import Principal
from hostplane.tokens.auth import looks_like_token

NOVNC = Path("/usr/share/novnc")
PREFIX = "/desktop/"
ASSETS = "/desktop/novnc/"
SOCKET = "/desktop/websockify"
REVOCATION_POLL = 2.0
REVOKED = 4403
_TYPES = {".js": b"text/javascript; charset=utf-8", ".json": b"application/json"}

_VIEWER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>html,body{{margin:0;height:100%;background:#202124;overflow:hidden}}
#screen{{width:100%;height:100%}}</style></head>
<body data-state="connecting"><div id="screen"></div>
<script type="module" nonce="{nonce}">
import RFB from "./novnc/core/rfb.js";
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const rfb = new RFB(document.getElementById("screen"), scheme + location.host + "{socket}");
rfb.scaleViewport = true;
rfb.viewOnly = {view_only};
rfb.addEventListener("connect", () => {{ document.body.dataset.state = "connected"; }});
rfb.addEventListener("disconnect", () => {{ document.body.dataset.state = "disconnected"; }});
window.viewer = rfb;
</script></body></html>
"""


def allows(principal: Principal, target: DesktopTarget) -> bool:
    """A grant for this very computer (a token naming it), of its organization."""
    limit = principal.limit
    return (principal.tenant_id == target.tenant_id and principal.can("computer:read")
            and limit is not None and limit.sandbox_ids is not None
            and target.computer_id in limit.sandbox_ids)


def same_host(origin: bytes | None, host_header: bytes | None) -> bool:
    """Whether a WebSocket comes from the viewer page itself: its Origin names this very host
    and port (cross-site WebSocket hijacking is refused)."""
    if not origin or not host_header:
        return False
    parts = urlsplit(origin.decode("latin-1").lower())
    try:
        port = parts.port
    except ValueError:
        return False
    default = {"http": 80, "https": 443}.get(parts.scheme)
    name, _, given = host_header.decode("latin-1").lower().partition(":")
    return (parts.hostname, port or default) == (name, int(given) if given.isdigit()
                                                 else default)


class Desktops:
    def __init__(self, edge: Any) -> None:
        self.edge = edge
        self._files: dict[str, bytes] = {}

    async def serve(self, scope: dict[str, Any], receive: Any, reply: Any, host: str,
                    target: DesktopTarget, offered: str | None) -> None:
        principal, token = await self._granted(scope, reply, target, offered)
        if principal is None:
            return
        path = scope["path"]
        if scope["type"] == "websocket":
            if path != SOCKET:
                await reply.page("NOT_FOUND")
                return
            headers = dict(scope["headers"])
            if scope.get("_cookie") and not same_host(headers.get(b"origin"),
                                                     headers.get(b"host")):
                await reply.page("PREVIEW_FORBIDDEN")
                return
            if target.state not in ("running", "starting"):
                await reply.page("DESKTOP_NOT_AVAILABLE")
                return
            await self._bridge(scope, receive, reply, target, principal, token)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await reply.page("METHOD_NOT_ALLOWED", [(b"allow", b"GET, HEAD")])
            return
        if path in ("/", "/desktop", PREFIX, PREFIX + "index.html", PREFIX + "vnc.html"):
            if target.state not in ("running", "starting"):
                await reply.page("DESKTOP_NOT_AVAILABLE")
                return
            await self._viewer(reply, target, principal)
        elif path.startswith(ASSETS):
            await self._asset(reply, path[len(ASSETS):])
        else:
            await reply.page("NOT_FOUND")

    async def _granted(self, scope: dict[str, Any], reply: Any, target: DesktopTarget,
                       offered: str | None) -> tuple[Principal | None, str]:
        """The grant's principal (and token), or (None, "") once a refusal or the
        token-for-cookie redirect has been answered."""
        edge = self.edge
        if offered is not None:
            if await self.check(offered, target) is None:
                await reply.page("DESKTOP_PRIVATE")
                return None, ""
            expires = jwt.decode(offered, options={"verify_signature": False})["exp"]
            location = local_location(scope.get("raw_path", b"/").decode("latin-1"),
                                      scope.get("query_string", b""))
            await reply.redirect(location, edge.access.cookie(
                offered, max(int(expires - edge.container.clock.now().timestamp()), 1)))
            return None, ""
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        kind, _, bearer = auth.decode("latin-1").partition(" ")
        if kind.lower() == "bearer" and bearer.strip():
            found = await self.check(bearer.strip(), target)
            if found is not None:
                return found, bearer.strip()
        cookie = preview_cookie([v for k, v in scope["headers"] if k == b"cookie"])
        found = None if cookie is None else await self.check(cookie, target)
        if found is None or cookie is None:
            await reply.page("DESKTOP_PRIVATE")
            return None, ""
        scope["_cookie"] = True
        return found, cookie

    async def check(self, token: str, target: DesktopTarget) -> Principal | None:
        if not looks_like_token(token):
            return None
        access = self.edge.access
        try:
            principal = await access.offload.run(access.offload.lookups,
                                                 access.authenticator.authenticate, token, None)
        except errors.HostplaneError:
            return None
        return principal if allows(principal, target) else None

    async def _viewer(self, reply: Any, target: DesktopTarget, principal: Principal) -> None:
        look = await self.edge.router.look(target.tenant_id)
        nonce = secrets.token_urlsafe(16)
        body = _VIEWER.format(title=html.escape(look.app_name or "Desktop"), nonce=nonce,
                              socket=SOCKET,
                              view_only="false" if principal.can("computer:control") else "true")
        csp = (f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'unsafe-inline';"
               " connect-src 'self' ws: wss:; img-src 'self' data: blob:").encode()
        await reply._answer(200, [(b"content-type", b"text/html; charset=utf-8"),
                                  (b"cache-control", b"no-store"),
                                  (b"referrer-policy", b"no-referrer"),
                                  (b"x-content-type-options", b"nosniff"),
                                  (b"content-security-policy", csp),
                                  (b"content-length", b"%d" % len(body.encode()))],
                            body.encode())

    async def _asset(self, reply: Any, name: str) -> None:
        """noVNC's own modules (core/ and vendor/ only), from the Debian package."""
        parts = name.split("/")
        if (parts[0] not in ("core", "vendor") or any(p in ("", ".", "..") for p in parts)
                or Path(name).suffix not in _TYPES):
            await reply.page("NOT_FOUND")
            return
        data = self._files.get(name)
        if data is None:
            path = NOVNC / name
            if not path.is_file():
                await reply.page("NOT_FOUND")
                return
            data = path.read_bytes()
            self._files[name] = data
        await reply._answer(200, [(b"content-type", _TYPES[Path(name).suffix]),
                                  (b"cache-control", b"public, max-age=3600"),
                                  (b"x-content-type-options", b"nosniff"),
                                  (b"content-length", b"%d" % len(data))], data)

    async def _bridge(self, scope: dict[str, Any], receive: Any, reply: Any,
                      target: DesktopTarget, principal: Principal, token: str) -> None:
        """The viewer's WebSocket (binary frames) ⇄ the VNC server's TCP port in the computer."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        port = VNC_PORT if principal.can("computer:control") else VNC_VIEW_ONLY_PORT
        try:
            sock = await self.edge._connect(target.computer_id, port)
        except errors.HostplaneError:
            await reply.page("DESKTOP_STARTING")
            return
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        offered = scope.get("subprotocols") or []
        reply.started = True
        send = reply.send
        await send({"type": "websocket.accept",
                    "subprotocol": "binary" if "binary" in offered else None})

        async def to_vnc() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes") or (message.get("text") or "").encode()
                writer.write(data)
                await writer.drain()

        async def to_viewer() -> None:
            while True:
                data = await reader.read(256 * 1024)
                if not data:
                    break
                await send({"type": "websocket.send", "bytes": data})
            await send({"type": "websocket.close", "code": 1000})

        async def revoked() -> None:
            while await self.check(token, target) is not None:
                await asyncio.sleep(REVOCATION_POLL)

        tasks = [asyncio.ensure_future(t) for t in (to_vnc(), to_viewer(), revoked())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if tasks[2] in done:
                with contextlib.suppress(Exception):
                    await send({"type": "websocket.close", "code": REVOKED,
                                "reason": "access ended"})
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            writer.close()
