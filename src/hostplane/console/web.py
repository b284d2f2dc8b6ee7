"""The console's request plumbing: who is signed in, the CSRF check, the setup gate, rendering a
page in the organization's branding, and service errors shown as the API shows them."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from hostplane import errors
from hostplane.api.container import Container
from hostplane.api.deps import RequestContext
from hostplane.audit import service as audit
from hostplane.branding import service as branding_service
from hostplane.branding.schemas import BrandingPublic
from hostplane.console import sessions
from hostplane.db.scope import Scope
from hostplane.resources.env import Env
from hostplane.tenancy.schemas import OrganizationPublic

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
TEMPLATES = Path(__file__).parent / "templates"
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADERS = {"cache-control": "no-store", "x-frame-options": "DENY",
           "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
           "content-security-policy": "default-src 'self'; img-src 'self' data: https: http:; "
                                      "style-src 'self' 'unsafe-inline'; script-src 'self'; "
                                      "frame-ancestors 'none'; form-action 'self'"}

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                   trim_blocks=True, lstrip_blocks=True)


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page."""


class SetupNeeded(Exception):
    """The organization must choose its name first: every page sends it to /setup."""


def template(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**values), status_code=status_code,
                        headers=HEADERS)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers=HEADERS)


def parse(model: type[M], **data: Any) -> M:
    """A schema from form fields, refused as the API refuses a body that does not fit."""
    try:
        return model(**{k: v for k, v in data.items() if v not in (None, "")})
    except ValidationError as exc:
        raise _invalid(exc.errors()) from None


@dataclass
class Console:
    """One signed-in page request: the service context, and what every page shows."""

    request: Request
    ctx: RequestContext
    signed: sessions.Signed
    organization: OrganizationPublic
    branding: BrandingPublic

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(scope, …)` in one transaction, as the API's handlers run services. Each call gets
        a fresh Scope: the last one's rows (its organization) left with its closed session."""
        self.ctx.scope = Scope(self.ctx.scope.session, self.ctx.principal.tenant_id)
        return await self.ctx.run(fn, *args, **kwargs)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Slow work outside the database (a command in a sandbox), within the organization's
        share of driver calls."""
        return await self.ctx.call(fn, *args, **kwargs)

    def need(self, permission: str) -> None:
        """The same permission the API route asks of the key (Forbidden otherwise)."""
        self.ctx.principal.require(permission)

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.signed.secret)

    def page(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return template(name, status_code, con=self, org=self.organization, brand=self.branding,
                        csrf=self.csrf, path=self.request.url.path, **values)

    async def audit(self, action: str, resource_type: str, resource_id: str | None,
                    status: int = 200) -> None:
        """Console changes are in the audit log as the key's own, with this request's id."""
        await run_in_threadpool(record, container_of(self.request), self.ctx.principal, action,
                                resource_type, resource_id, self.request, status)


def record(container: Container, principal: Any, action: str, resource_type: str,
           resource_id: str | None, request: Request, status: int) -> None:
    change = audit.Change(action, resource_type, resource_id)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    with container.database.transaction() as session:
        audit.record(session, principal, change, request.method, route, status,
                     request_id_of(request), container.clock.now())


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "") or ""


def _frame(scope: Scope) -> tuple[OrganizationPublic, BrandingPublic]:
    return (OrganizationPublic.of(scope.tenant()),
            BrandingPublic.of(branding_service.get_branding(scope)))


async def signed_in(request: Request, *, gate: bool = True) -> Console:
    container = container_of(request)
    secret = request.cookies.get(sessions.COOKIE)
    if not secret:
        raise SignInNeeded()
    now = container.clock.now()
    try:
        signed = await run_in_threadpool(sessions.find_session, container.database, secret,
                                         container.settings, now)
    except errors.Unauthenticated:
        raise SignInNeeded() from None
    write = request.method in _WRITES
    if write:
        sent = request.headers.get("x-csrf-token")
        if sent is None:
            form = await request.form()
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        if not sessions.csrf_ok(secret, sent):
            raise errors.Forbidden(
                "This form is not from a page of this console (its security token is missing "
                "or does not match your session).", code="CSRF_FAILED",
                fix="Reload the page and submit the form again.")
    principal = signed.principal
    ctx = RequestContext(
        principal=principal,
        scope=Scope(container.database.session(write=write), principal.tenant_id),
        now=now, settings=container.settings, request_id=request_id_of(request), write=write,
        env=Env(container.platform, container.driver, now, container.resolver,
                container.databases, container.capacity, container.releases),
        driver_shares=container.driver_shares, verify_limiter=container.verify_limiter)
    organization, branding = await ctx.run(_frame)
    if gate and organization.setup_required:
        raise SetupNeeded()
    return Console(request, ctx, signed, organization, branding)


def error_page(request: Request, exc: errors.HostplaneError, con: Console | None = None
               ) -> HTMLResponse:
    referer = request.headers.get("referer") or ""
    own = str(request.base_url)
    values = dict(error=exc, status=exc.status, fix=exc.details.get("fix"),
                  request_id=request_id_of(request),
                  back=referer if referer.startswith(own) else None)
    if con is not None:
        return con.page("error.html", exc.status, **values)
    return template("error.html", exc.status, con=None, org=None, brand=None,
                    csrf="", path=request.url.path, **values)


class ConsoleRoute(APIRoute):
    """Console routes answer pages: no session → sign-in, setup pending → /setup, and a
    service's refusal → an error page with the API's message, fix and request id."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                if request.headers.get("hx-request"):
                    return Response(status_code=204, headers={"HX-Redirect": "/signin"})
                return redirect("/signin?next=" + _safe_next(request))
            except SetupNeeded:
                return redirect("/setup")
            except errors.HostplaneError as exc:
                return error_page(request, exc, getattr(request.state, "console", None))
            except RequestValidationError as exc:
                return error_page(request, _invalid(exc.errors()),
                                  getattr(request.state, "console", None))

        return handle


def _invalid(problems: Any) -> errors.Invalid:
    """A query or form field FastAPI refused, worded as the API words it."""
    first = next(iter(problems), {})
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    field = field or "body"
    rule = "required" if first.get("type") == "missing" else first.get("msg", "invalid")
    return errors.Invalid(f"{field}: {rule}.", field=field, rule=rule,
                          fix=f"Add {field}." if rule == "required" else f"Correct {field}.")


def _safe_next(request: Request) -> str:
    from urllib.parse import quote

    return quote(request.url.path if request.method == "GET" else "/", safe="/")


async def _gated(request: Request) -> Console:
    con = await signed_in(request)
    request.state.console = con
    return con


async def _ungated(request: Request) -> Console:
    con = await signed_in(request, gate=False)
    request.state.console = con
    return con


# A signed-in page behind the setup gate, and one the gate itself leads to.
Page = Annotated[Console, Depends(_gated)]
SetupPage = Annotated[Console, Depends(_ungated)]
