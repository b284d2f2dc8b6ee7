"""Computers (spec §3, §6; contract §11): desktops with a desktop URL from the engine. A driver
without desktops leaves them stopped with a status_reason; they still have URLs and can take
domains."""

from __future__ import annotations

from dataclasses import dataclass

from hostplane import errors
from hostplane.compute.port import DESKTOP
from hostplane.db.helpers import Page, try_insert
from hostplane.db.scope import Scope
from hostplane.domains.custom_domains import detach_all, verified_hosts
from hostplane.domains.tenant_domains import organization_domains
from hostplane.resources.common import (
    DESTROYED,
    ResourceFilters,
    get_resource,
    list_resources,
    owned,
    random_slug,
    rename,
)
from hostplane.resources import desktop
from hostplane.resources.computer_schemas import ComputerCreate, ComputerUpdate
from hostplane.resources.env import Env
from hostplane.resources.models import Computer
from hostplane.tenancy import slugs
from hostplane.urls import ComputerUrls, OrganizationDomains, computer_urls

_ATTEMPTS = 5
WHAT = "computer"


@dataclass(frozen=True)
class ComputerView:
    computer: Computer
    urls: ComputerUrls


def create_computer(scope: Scope, body: ComputerCreate, env: Env) -> ComputerView:
    _, columns = owned(scope, body)
    org = organization_domains(scope)
    if body.slug is not None:
        slugs.label_slug(body.slug, field="slug")
        if not body.slug[0].isalpha():
            # `{slug}.sandbox.{domain}` must never read as a sandbox preview `{port}-{sandbox}`.
            raise errors.Invalid(
                f"Computer slug {body.slug!r} does not start with a letter.", field="slug",
                rule="computer slugs start with a letter a-z",
                fix=f"Use e.g. 'desk-{body.slug}'.")
        computer_urls(env.platform, org, body.slug)
    runs = DESKTOP in env.driver.capabilities()
    width, height = body.screen()
    computer = Computer(
        **columns, name=body.name, template_type=body.template_type, size=body.size,
        visibility=body.visibility, meta=body.metadata or {},
        state="starting" if runs else "stopped",
        status_reason=None if runs else (
            f"The {env.driver.name} compute driver cannot run desktops; the computer keeps its "
            "URLs and domains and can start once a desktop-capable driver is configured."),
    )
    computer.tenant_id = scope.tenant_id  # added by try_insert, after the slug is chosen
    for _ in range(_ATTEMPTS):
        computer.slug = body.slug or random_slug("cmp")
        if try_insert(scope.session, computer):
            if runs:
                desktop.boot(scope, computer, env, width, height)
            return ComputerView(computer, computer_urls(env.platform, org, computer.slug))
        if body.slug is not None:
            raise slugs.slug_taken("computer", body.slug)
    raise errors.Conflict("Could not find a free computer slug; retry.", code="RETRY")


def get_computer(scope: Scope, computer_id: str, env: Env) -> ComputerView:
    computer = get_resource(scope, Computer, computer_id, WHAT, include_destroyed=True)
    desktop.settle(scope, computer, env)
    return _view(scope, computer, organization_domains(scope), env)


def list_computers(scope: Scope, filters: ResourceFilters, env: Env, *, limit: int,
                   cursor: str | None, offset: int) -> Page[ComputerView]:
    page = list_resources(scope, Computer, filters, limit=limit, cursor=cursor, offset=offset)
    for computer in page.items:
        desktop.settle(scope, computer, env)
    org = organization_domains(scope)
    return Page(_views(scope, page.items, org, env), page.next_cursor, page.total)


def update_computer(scope: Scope, computer_id: str, body: ComputerUpdate,
                    env: Env) -> ComputerView:
    computer = get_resource(scope, Computer, computer_id, WHAT)
    rename(scope, computer, body.name, body.metadata)
    return _view(scope, computer, organization_domains(scope), env)


def destroy_computer(scope: Scope, computer_id: str, env: Env) -> Computer:
    computer = get_resource(scope, Computer, computer_id, WHAT, include_destroyed=True)
    if computer.destroyed_at is None:
        computer.state, computer.destroyed_at, computer.status_reason = DESTROYED, env.now, None
        scope.session.flush()
        desktop.remove(computer, env)
        detach_all(scope, "computer", computer.id, env.now)
    return computer


def _view(scope: Scope, computer: Computer, org: OrganizationDomains, env: Env) -> ComputerView:
    return _views(scope, [computer], org, env)[0]


def _views(scope: Scope, computers: list[Computer], org: OrganizationDomains,
           env: Env) -> list[ComputerView]:
    """An exact domain attached to a computer (verified) wins over its desktop host; the
    domains of a whole page are read in one query."""
    custom = verified_hosts(scope, "computer", [c.id for c in computers])
    return [ComputerView(c, computer_urls(env.platform, org, c.slug, custom.get(c.id, [])))
            for c in computers]
