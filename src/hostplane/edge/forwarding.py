"""What a sandbox sees of a request: the client's headers without hop-by-hop fields, without
any platform credential and without the client's own forwarding claims; our forwarding headers
in their place; and `Host: localhost:{port}` unless the sandbox turned host masking off (dev
servers such as Vite refuse unknown hosts)."""

from __future__ import annotations

from http.cookies import SimpleCookie

HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
    b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade",
})
# Claims about the path a request took: only the edge itself may make them.
FORWARDING = frozenset({
    b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto",
    b"x-forwarded-port", b"x-forwarded-prefix", b"x-real-ip", b"via", b"x-original-host",
})
PREVIEW_COOKIE_SECURE = "__Host-preview_token"
PREVIEW_COOKIE_PLAIN = "preview_token"
PREVIEW_COOKIES = (PREVIEW_COOKIE_SECURE, PREVIEW_COOKIE_PLAIN)
TOKEN_PARAM = "preview_token"


def is_platform_credential(authorization: bytes, is_ours: callable) -> bool:  # type: ignore[valid-type]
    """An API key, or a browser token signed by this platform (the app's own bearer tokens
    pass through)."""
    scheme, _, value = authorization.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    value = value.strip()
    return value.startswith("msk_") or is_ours(value)


def without_preview_cookies(cookie: bytes) -> bytes | None:
    """The Cookie header without the edge's own cookies (None when nothing is left)."""
    kept = [part for part in cookie.split(b";")
            if part.strip().split(b"=", 1)[0].decode("latin-1") not in PREVIEW_COOKIES]
    joined = b";".join(kept).strip()
    return joined or None


def preview_cookie(cookie_headers: list[bytes]) -> str | None:
    for header in cookie_headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header.decode("latin-1"))
        except Exception:
            continue
        for name in PREVIEW_COOKIES:
            if name in jar:
                return jar[name].value
    return None


def _named_by_connection(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Headers the sender's Connection header names: hop-by-hop for this message only."""
    return {name.strip().lower() for value in (v for k, v in headers if k == b"connection")
            for name in value.split(b",")}


def upstream_headers(headers: list[tuple[bytes, bytes]], *, host: bytes, port: int,
                     mask_host: bool, client_ip: str, scheme: str,
                     is_ours: callable) -> list[tuple[bytes, bytes]]:  # type: ignore[valid-type]
    """The headers to send to the sandbox (without framing headers: the caller adds those)."""
    connection_named = _named_by_connection(headers)
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name in HOP_BY_HOP or name in FORWARDING or name in connection_named or \
                name in (b"host", b"content-length", b"expect") or name.startswith(b"x-miosa-"):
            continue
        if name == b"authorization" and is_platform_credential(value, is_ours):
            continue
        if name == b"cookie":
            value = without_preview_cookies(value)  # type: ignore[assignment]
            if value is None:
                continue
        out.append((name, value))
    return out + _forwarding(host, port, mask_host, client_ip, scheme)


def _forwarding(host: bytes, port: int, mask_host: bool, client_ip: str,
                scheme: str) -> list[tuple[bytes, bytes]]:
    """The Host the sandbox sees and the edge's forwarding headers."""
    upstream_host = b"localhost:%d" % port if mask_host else host
    ip = client_ip.encode()
    node = b'"[%s]"' % ip if b":" in ip else ip
    return [
        (b"host", upstream_host),
        (b"x-forwarded-for", ip),
        (b"x-forwarded-proto", scheme.encode()),
        (b"x-forwarded-host", host),
        (b"forwarded", b"for=%s;host=%s;proto=%s" % (node, host, scheme.encode())),
    ]


def forwarding_lines(host: bytes, port: int, mask_host: bool, client_ip: str,
                     scheme: str) -> bytes:
    """`_forwarding` as header lines, each ended by CRLF (the fast path's, edge/heads.py)."""
    return b"".join(b"%s: %s\r\n" % pair
                    for pair in _forwarding(host, port, mask_host, client_ip, scheme))


def response_headers(headers: list[tuple[bytes, bytes]], host: str) -> list[tuple[bytes, bytes]]:
    """The sandbox's response headers for the client: no hop-by-hop fields, no server or
    framework banner (the end user never learns what runs behind the address), and no cookie
    the app may not set: the edge's own, or one for a wider domain than the preview's host
    (which every other preview under it would receive)."""
    connection_named = _named_by_connection(headers)
    return [(k, v) for k, v in headers
            if k not in HOP_BY_HOP and k not in connection_named
            and k not in (b"server", b"x-powered-by", b"via")
            and not (k == b"set-cookie" and not own_cookie(v, host))]


def own_cookie(set_cookie: bytes, host: str) -> bool:
    text = set_cookie.decode("latin-1")
    name = text.split("=", 1)[0].strip()
    if name in PREVIEW_COOKIES:
        return False
    for attribute in text.split(";")[1:]:
        key, _, value = attribute.strip().partition("=")
        if key.strip().lower() == "domain" and value.strip().lstrip(".").lower() != host:
            return False
    return True
