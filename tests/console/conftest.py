"""Console test helpers: a browser-like client that keeps the console's cookies itself (they are
Secure under the suite's https settings, which httpx would not send over loopback http)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []
        self.csrf = ""

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        resp = self.http.request(method, path, headers=headers, **kw)
        self.set_cookies = resp.headers.get_list("set-cookie")
        for line in self.set_cookies:
            name, _, rest = line.partition("=")
            value = rest.split(";")[0].strip('"')
            if "Max-Age=0" in line or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        found = _CSRF.search(resp.text) if resp.headers.get("content-type", "").startswith(
            "text/html") else None
        if found:
            self.csrf = found.group(1)
        return resp

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self._send("GET", path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
             **kw: Any) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        return self._send("POST", path, data=form, **kw)

    def sign_in(self, key: str) -> httpx.Response:
        self.get("/signin")
        return self.post("/signin", {"key": key, "next": "/"})


@pytest.fixture
def browser(base_url: str) -> Iterator[Browser]:
    made = Browser(base_url)
    yield made
    made.http.close()
