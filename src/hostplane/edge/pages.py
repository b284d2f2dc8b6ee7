"""The pages the edge answers with when it can't serve a host: one per situation, HTML for
browsers and JSON for everything else, in the organization's branding. No internal id, address
or provider name appears in them (nor in their headers), and "Powered by" only when the
organization shows it."""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from email.utils import formatdate
from dataclasses import dataclass

PRODUCT = "hostplane"
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


@dataclass(frozen=True, slots=True)
class Look:
    """What an error page shows of the organization."""

    app_name: str | None = None
    logo_url: str | None = None
    support_url: str | None = None
    primary_color: str | None = None
    powered_by_visible: bool = False


NEUTRAL = Look()


@dataclass(frozen=True, slots=True)
class Situation:
    status: int
    code: str
    title: str
    message: str
    retryable: bool = False


# Every situation the edge can be in, by name.
SITUATIONS = {s.code: s for s in (
    Situation(400, "BAD_REQUEST", "Bad request",
              "The request could not be understood. Check the address and try again."),
    Situation(408, "REQUEST_TIMEOUT", "The request took too long",
              "The request's body did not arrive in time. Try again."),
    Situation(404, "HOST_NOT_FOUND", "Nothing here",
              "This address is not set up. Check the link you followed."),
    Situation(410, "RESOURCE_REMOVED", "This app was removed",
              "What was served at this address has been removed."),
    Situation(404, "NOT_FOUND", "Page not found", "There is no page at this path."),
    Situation(405, "METHOD_NOT_ALLOWED", "Method not allowed",
              "This address serves files: use GET or HEAD."),
    Situation(503, "NOT_PUBLISHED", "Not published yet",
              "Nothing has been published at this address yet. Try again after the next "
              "release.", retryable=True),
    Situation(503, "SANDBOX_STOPPED", "This preview is stopped",
              "The app behind this preview is stopped. Start it again, then reload this page.",
              retryable=True),
    Situation(503, "SANDBOX_PAUSED", "This preview is paused",
              "The app behind this preview is paused. Resume it, then reload this page.",
              retryable=True),
    Situation(503, "SANDBOX_STARTING", "This preview is starting",
              "The app behind this preview is starting. Reload this page in a moment.",
              retryable=True),
    Situation(503, "SANDBOX_UNAVAILABLE", "This preview is unavailable",
              "The app behind this preview can't run right now.", retryable=True),
    Situation(502, "PORT_NOT_LISTENING", "Nothing is listening yet",
              "The app is running, but nothing answers on this port yet. Start the server "
              "(it may listen on any address), then reload.", retryable=True),
    Situation(502, "BAD_GATEWAY", "The app did not answer properly",
              "The app behind this address closed the connection or sent an invalid "
              "response.", retryable=True),
    Situation(504, "GATEWAY_TIMEOUT", "The app took too long",
              "The app behind this address did not answer in time.", retryable=True),
    Situation(503, "DESKTOP_NOT_AVAILABLE", "Desktop not available",
              "This computer's desktop can't be shown in the browser yet.", retryable=True),
    Situation(401, "DESKTOP_PRIVATE", "This desktop is private",
              "Open it from the app that shared it with you: the link carries your access."),
    Situation(503, "DESKTOP_STARTING", "This desktop is starting",
              "The computer is starting. Reload this page in a moment.", retryable=True),
    Situation(401, "PREVIEW_PRIVATE", "This preview is private",
              "Open it from the app that shared it with you: the link carries your access."),
    Situation(403, "PREVIEW_FORBIDDEN", "Access denied",
              "Your access does not cover this preview, or the request came from another "
              "site."),
    Situation(429, "RATE_LIMITED", "Too many requests",
              "This app is receiving more requests than it can take. Try again shortly.",
              retryable=True),
    Situation(500, "INTERNAL", "Something went wrong",
              "This address could not be served just now. Try again shortly.", retryable=True),
    Situation(503, "TOO_MANY_CONNECTIONS", "Too busy",
              "This app has too many open connections. Try again shortly.", retryable=True),
)}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}{suffix}</title>
<style>
body{{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1f2933;background:#f7f8fa;
display:flex;min-height:100vh;align-items:center;justify-content:center}}
main{{max-width:32rem;padding:2rem;text-align:center}}
h1{{font-size:1.5rem;margin:.5rem 0;color:{color}}}
img{{max-height:48px;max-width:200px}} a{{color:{color}}} footer{{margin-top:2rem;font-size:.8rem;color:#6b7280}}
</style></head>
<body><main>
{logo}<h1>{title}</h1>
<p>{message}</p>
{support}{footer}
</main></body></html>
"""

HEADERS_HTML = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy",
     b"default-src 'none'; img-src https: data:; style-src 'unsafe-inline'"),
]
HEADERS_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff")]


def wants_html(accept: str) -> bool:
    return "text/html" in accept


def render(code: str, look: Look, *, html_page: bool,
           extra_headers: list[tuple[bytes, bytes]] | None = None,
           ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the page for situation `code`."""
    situation = SITUATIONS[code]
    request_id = secrets.token_hex(8)
    headers = [*(HEADERS_HTML if html_page else HEADERS_JSON), *(extra_headers or []),
               (b"x-request-id", request_id.encode()), date_header()]
    if situation.retryable and situation.status in (429, 503):
        headers.append((b"retry-after", b"5"))
    if not html_page:
        body = json.dumps({"error": {"code": situation.code, "message": situation.message,
                                     "details": {}, "retryable": situation.retryable},
                           "request_id": request_id}).encode()
    else:
        body = _html(situation, look).encode()
    headers.append((b"content-length", b"%d" % len(body)))
    return situation.status, headers, body


def date_header() -> tuple[bytes, bytes]:
    return b"date", formatdate(usegmt=True).encode()


_DATE: list = [0, b""]  # the second, and its Date line


def date_line() -> bytes:
    """`date_header` as a header line, made once a second (the fast path's files)."""
    now = int(time.time())
    if _DATE[0] != now:
        _DATE[:] = [now, b"date: %s\r\n" % formatdate(now, usegmt=True).encode()]
    return _DATE[1]


def _html(situation: Situation, look: Look) -> str:
    esc = html.escape
    color = look.primary_color if look.primary_color and _COLOR.match(look.primary_color) \
        else "#1f2933"
    logo = (f'<img src="{esc(look.logo_url)}" alt="{esc(look.app_name or "")}">'
            if look.logo_url and look.logo_url.startswith("https://") else "")
    support = (f'<p><a href="{esc(look.support_url)}">Get help</a></p>'
               if look.support_url and look.support_url.startswith("https://") else "")
    footer = f"<footer>Powered by {PRODUCT}</footer>" if look.powered_by_visible else ""
    return _PAGE.format(title=esc(situation.title), message=esc(situation.message), color=color,
                        suffix=f" · {esc(look.app_name)}" if look.app_name else "",
                        logo=logo, support=support, footer=footer)
