"""The `hostplane` command: operator commands (serve, api, edge, worker, accounts, keys, tenants,
db; caddyfile and down have modules of their own), and the API's own commands (org, setup,
workspaces, …, one module per group), which talk to a running server."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated

import typer

from hostplane import __version__, errors
from hostplane.cli import (
    _help,
    backup_cli,
    branding_cli,
    caddy_cli,
    computers_cli,
    databases_cli,
    deployments_cli,
    domains_cli,
    down_cli,
    events_cli,
    org_cli,
    sandboxes_cli,
    webhooks_cli,
    workspaces_cli,
)
from hostplane.cli._api import console
from hostplane.cli._operator import container as _container
from hostplane.cli._operator import fail as _fail

_help.install()

# The operator commands import the server's modules (database, services) when they run, not when
# the command line starts: `hostplane --help` and the API commands never pay for them.
if TYPE_CHECKING:
    from hostplane.tokens.models import SigningKey

app = typer.Typer(
    help="hostplane: a self-hostable white-label platform API. Settings come from HOSTPLANE_* "
    "environment variables; data lives in HOSTPLANE_DATA_DIR (default ./.hostplane).",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"hostplane {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """hostplane: a self-hostable white-label platform API."""
accounts = typer.Typer(help="Organizations (accounts) on this hostplane.", no_args_is_help=True)
keys = typer.Typer(help="API keys of an organization, and the platform's browser-token signing "
                   "keys.", no_args_is_help=True)
db = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(accounts, name="accounts")
app.add_typer(keys, name="keys")
app.add_typer(db, name="db")
tenants = typer.Typer(help="Organization settings an operator manages.", no_args_is_help=True)
app.add_typer(tenants, name="tenants")

# The API, from a terminal (HOSTPLANE_API_URL and HOSTPLANE_API_KEY).
app.add_typer(org_cli.org, name="org")
app.command("setup")(org_cli.setup)
app.add_typer(workspaces_cli.workspaces, name="workspaces")
app.add_typer(workspaces_cli.projects, name="projects")
app.add_typer(sandboxes_cli.sandboxes, name="sandboxes")
app.add_typer(databases_cli.databases, name="databases")
app.add_typer(deployments_cli.deployments, name="deployments")
app.add_typer(computers_cli.computers, name="computers")
app.add_typer(domains_cli.domains, name="domains")
app.add_typer(domains_cli.organization_domain("preview"), name="preview-domain")
app.add_typer(domains_cli.organization_domain("deployment"), name="deployment-domain")
app.add_typer(branding_cli.branding, name="branding")
app.add_typer(branding_cli.browser_tokens, name="browser-tokens")
app.add_typer(events_cli.events, name="events")
app.add_typer(webhooks_cli.webhooks, name="webhooks")
app.command("caddyfile")(caddy_cli.caddyfile)
app.command("down")(down_cli.down)
app.command("backup")(backup_cli.backup)
app.command("restore")(backup_cli.restore)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


def _serve(host: str, port: int, *, worker: bool, edge: bool, log_level: str,
           access_log: bool) -> None:
    import asyncio

    import uvicorn

    from hostplane.api.app import create_app
    from hostplane.api.container import Container
    from hostplane.api.shutdown import DrainingHttp, exit_zero_on_sigterm, leaving
    from hostplane.edge.app import create_edge
    from hostplane.edge.serving import CompanionServer, edge_config
    from hostplane.settings import get_settings
    from hostplane.worker.runner import Worker

    exit_zero_on_sigterm()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    container = Container.build(settings)
    api = create_app(container=container)
    runner = Worker(container) if worker else None
    if runner is not None:
        runner.start_in_thread()
    api_server = uvicorn.Server(uvicorn.Config(
        api, host=host, port=port, log_level=log_level, proxy_headers=True,
        access_log=access_log, http=DrainingHttp, server_header=False,  # white-label: no name
        timeout_graceful_shutdown=settings.shutdown_grace_sec))
    if not edge:
        with leaving():
            api_server.run()
        return
    # No access log for the edge: its lines would be end users' visits, not the operator's
    # API calls.
    edge_server = CompanionServer(edge_config(create_edge(container), host=host,
                                              port=settings.edge_port, log_level=log_level,
                                              access_log=False,
                                              grace=settings.shutdown_grace_sec))

    async def both() -> None:
        # The edge stops with the API (which owns the process's signals), at the same moment,
        # so both drain within one grace period; if the edge can't start (its port taken), the
        # process exits with uvicorn's error.
        edge_task = asyncio.ensure_future(edge_server.serve())
        api_task = asyncio.ensure_future(api_server.serve())
        while not (api_server.should_exit or api_task.done()):
            await asyncio.sleep(0.1)
        container.stopping.set()
        edge_server.should_exit = True
        if runner is not None:
            runner.stop.set()
        await api_task
        await edge_task

    import uvloop  # what uvicorn runs a server on by itself; asyncio.run would not

    with leaving(), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner_loop:
        runner_loop.run(both())


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning or error.")]
AccessLog = Annotated[bool, typer.Option(help="Log one line per request.")]


Workers = Annotated[int, typer.Option(min=1, max=64, help="API processes sharing the port "
                                      "(PostgreSQL only; SQLite serves from one process).")]


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8080, log_level: LogLevel = "info",
          access_log: AccessLog = True, workers: Workers = 1) -> None:
    """Run everything in one process: the API, the background worker and the edge router (on
    HOSTPLANE_EDGE_PORT, default 8000, where the URLs the API returns point). SQLite by
    default. With --workers N (PostgreSQL), N API processes share the port and the edge and
    the background worker run beside them in processes of their own."""
    if workers > 1:
        _serve_workers(host, port, workers, log_level=log_level, access_log=access_log,
                       companions=True)
        return
    _serve(host, port, worker=True, edge=True, log_level=log_level, access_log=access_log)


@app.command("api")
def api_command(host: Host = "127.0.0.1", port: Port = 8080, log_level: LogLevel = "info",
                access_log: AccessLog = True, workers: Workers = 1) -> None:
    """Run only the JSON API (stateless; run several behind a load balancer, or --workers N
    processes sharing the port, on PostgreSQL)."""
    if workers > 1:
        _serve_workers(host, port, workers, log_level=log_level, access_log=access_log,
                       companions=False)
        return
    _serve(host, port, worker=False, edge=False, log_level=log_level, access_log=access_log)


def _serve_workers(host: str, port: int, workers: int, *, log_level: str, access_log: bool,
                   companions: bool) -> None:
    """N API processes on one port (SO_REUSEPORT, uvicorn's supervisor restarts a dead one);
    with `companions`, `hostplane edge` and `hostplane worker` as child processes too.

    SQLite is refused: its one writer at a time is queued by a lock inside a process, and a
    revoked key or token is forgotten by the other processes only when their caches age out
    (PostgreSQL tells them at once, by NOTIFY)."""
    import subprocess
    import sys

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from hostplane.api.container import Container
    from hostplane.db.migrate import upgrade
    from hostplane.edge.serving import shared_socket
    from hostplane.settings import get_settings

    settings = get_settings()
    container = Container.build(settings)
    if container.database.is_sqlite:
        _fail(errors.Invalid(
            f"--workers {workers} needs PostgreSQL: SQLite takes one writer at a time, which one "
            "API process queues for, and only PostgreSQL tells other processes at once that a "
            "key or token was revoked.", field="--workers",
            rule="more than one API process only with HOSTPLANE_DATABASE_URL=postgresql+psycopg://…",
            fix="Set HOSTPLANE_DATABASE_URL to a PostgreSQL database, or leave --workers out."),
            False)
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    upgrade(container.database)  # once, before the workers start
    container.stop()
    config = uvicorn.Config("hostplane.api.app:from_environment", factory=True, host=host,
                            port=port, log_level=log_level, proxy_headers=True,
                            access_log=access_log, workers=workers)
    sock = shared_socket(config.host, config.port)
    command = [sys.executable, "-m", "hostplane.cli"]
    children = [subprocess.Popen([*command, "edge", "--host", host, "--log-level", log_level]),
                subprocess.Popen([*command, "worker"])] if companions else []
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


@app.command("edge")
def edge_command(
    host: Host = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port to listen on (default "
                                             "HOSTPLANE_EDGE_PORT, 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes sharing the port.")] = 1,
    log_level: LogLevel = "info",
    access_log: AccessLog = False,
) -> None:
    """Run only the edge router: it serves every URL the API hands out (previews, deployments,
    desktops, exact domains). Stateless over the same database; put Caddy in front for TLS
    (`hostplane caddyfile`)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from hostplane.edge.serving import edge_config, shared_socket
    from hostplane.api.container import Container
    from hostplane.api.shutdown import exit_zero_on_sigterm, leaving
    from hostplane.db.migrate import upgrade
    from hostplane.settings import get_settings

    exit_zero_on_sigterm()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    upgrade(Container.build(settings).database)  # once, before the workers start
    config = edge_config("hostplane.edge.app:from_environment", host=host,
                         port=port or settings.edge_port, log_level=log_level,
                         access_log=access_log, workers=workers,
                         grace=settings.shutdown_grace_sec)
    # SO_REUSEPORT: separate `hostplane edge` processes (or a new one started before the old
    # one stops) share the port; the kernel spreads connections between them.
    sock = shared_socket(config.host, config.port)
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        with leaving():
            uvicorn.Server(config).run(sockets=[sock])


@app.command()
def worker(
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 30.0,
    once: Annotated[bool, typer.Option(help="Run one pass and exit.")] = False,
) -> None:
    """Run the background jobs: re-checking domains' DNS, fetching branding wallpapers set by
    URL, expiring Idempotency-Key records, delivering webhooks, pruning old events. Safe to run
    several. SIGTERM stops it between passes (exit 0)."""
    import signal

    from hostplane.worker.runner import Worker

    logging.basicConfig(level=logging.INFO)
    container = _container()
    runner = Worker(container, interval_seconds=interval)
    if once:
        console.print_json(json.dumps(runner.run_once()))
        return
    # SIGTERM (or ^C): no new pass or delivery starts; the ones under way finish (within the
    # grace period), then the process exits 0. A job cut short by kill -9 is taken over by
    # another worker when its lease runs out.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop.set())
    runner.run_forever(grace=container.settings.shutdown_grace_sec)


@accounts.command("create")
def accounts_create(
    name: Annotated[str | None, typer.Option(help="Organization name; fixes its permanent slug. "
                                             "Without it the account needs setup.")] = None,
    email: Annotated[str | None, typer.Option(help="Contact email of the organization.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an organization and its first API key (printed once)."""
    from hostplane.keys.service import create_key
    from hostplane.tenancy.organizations import create_organization

    container = _container()
    try:
        with container.database.transaction() as session:
            tenant = create_organization(session, name=name, email=email,
                                         now=container.clock.now())
            _key, secret = create_key(session, tenant_id=tenant.id, name="default")
    except errors.HostplaneError as exc:
        _fail(exc, as_json)
    result = {"tenant_id": tenant.id, "slug": tenant.slug, "name": tenant.name, "api_key": secret}
    if as_json:
        print(json.dumps(result))
        return
    console.print(f"Organization [bold]{tenant.name or '(not set up)'}[/bold] slug {tenant.slug}")
    console.print(f"id       {tenant.id}")
    console.print(f"API key  {secret}  [dim](shown once; store it now)[/dim]")
    if not name:
        console.print("[yellow]Setup required:[/yellow] set the organization name with "
                      f"PUT /api/v1/tenants/{tenant.id}")


@keys.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="Organization id or slug.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    as_json: JsonFlag = False,
) -> None:
    """Create an API key for an organization (the secret is printed once)."""
    from hostplane.keys.service import create_key
    from hostplane.tenancy.organizations import find_organization

    container = _container()
    with container.database.transaction() as session:
        org = find_organization(session, tenant)
        if org is None:
            _fail(_no_organization(tenant), as_json)
        key, secret = create_key(session, tenant_id=org.id, name=name)
    result = {"id": key.id, "api_key": secret, "key_prefix": key.key_prefix}
    if as_json:
        print(json.dumps(result))
    else:
        console.print(f"key {key.id}  {secret}  [dim](shown once)[/dim]")


def _no_organization(tenant: str) -> errors.NotFound:
    return errors.NotFound(f"No organization {tenant!r} on this hostplane.", code="ORG_NOT_FOUND",
                           field="tenant", rule="an organization's id or slug",
                           fix="Use the tenant_id or slug that `hostplane accounts create` "
                               "printed.")


def _signing_view(key: SigningKey) -> dict[str, object]:
    return {"kid": key.id, "algorithm": key.algorithm, "status": key.status,
            "created_at": key.created_at.isoformat(),
            "retired_at": key.retired_at.isoformat() if key.retired_at else None,
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


@keys.command("rotate-signing")
def keys_rotate_signing(as_json: JsonFlag = False) -> None:
    """Start signing browser tokens with a new key. Tokens signed by the old one keep working
    until they expire (it stays in the JWKS for 24 h 10 min); use revoke-signing to end them."""
    from hostplane.tokens import signing

    container = _container()
    now = container.clock.now()
    with container.database.transaction() as session:
        key = signing.rotate(session, now)
        session.flush()
        view = _signing_view(key)
    if as_json:
        print(json.dumps(view))
    else:
        console.print(f"signing with {view['kid']} from now on; earlier keys verify until "
                      "their tokens expire")


@keys.command("signing-keys")
def keys_signing_keys(as_json: JsonFlag = False) -> None:
    """List the browser-token signing keys (never their private halves)."""
    from sqlalchemy import select

    from hostplane.tokens.models import SigningKey

    container = _container()
    with container.database.transaction(write=False) as session:
        views = [_signing_view(k) for k in
                 session.scalars(select(SigningKey).order_by(SigningKey.created_at))]
    if as_json:
        print(json.dumps({"keys": views}))
        return
    for view in views:
        console.print(f"{view['kid']}  {view['status']:<9} created {view['created_at']}")


@keys.command("revoke-signing")
def keys_revoke_signing(
    kid: Annotated[str, typer.Argument(help="The key id (the tokens' `kid`).")],
    as_json: JsonFlag = False,
) -> None:
    """Stop trusting a signing key at once: every token it signed is refused (within the few
    seconds other API processes cache keys). Revoking the active key leaves none until the
    next rotate-signing, or the next token minted, creates one."""
    from hostplane.tokens import signing

    container = _container()
    try:
        with container.database.transaction() as session:
            view = _signing_view(signing.revoke(session, kid, container.clock.now()))
    except errors.HostplaneError as exc:
        _fail(exc, as_json)
    if as_json:
        print(json.dumps(view))
    else:
        console.print(f"revoked {kid}: tokens it signed are refused")


@tenants.command("set-deployment-domain")
def tenants_set_deployment_domain(
    domain: Annotated[str, typer.Argument(help="Base domain, e.g. apps.cliniciq.com.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Organization id or slug.")],
    verified: Annotated[bool, typer.Option(
        "--verified", help="You have checked that *.DOMAIN points at this platform: deployment "
                           "URLs use it at once instead of waiting for DNS verification.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Set an organization's deployment domain (operators manage it; organizations manage
    their preview domain themselves)."""
    from hostplane.db.scope import Scope
    from hostplane.domains.models import DEPLOYMENT
    from hostplane.domains.schemas import TenantDomainPublic
    from hostplane.domains.tenant_domains import mark_verified, set_tenant_domain
    from hostplane.tenancy.organizations import find_organization

    container = _container()
    try:
        with container.database.transaction() as session:
            org = find_organization(session, tenant)
            if org is None:
                raise _no_organization(tenant)
            scope = Scope(session, org.id)
            view = set_tenant_domain(scope, DEPLOYMENT, domain, container.platform,
                                     container.clock.now(), field="domain")
            if verified:
                mark_verified(scope, DEPLOYMENT, container.clock.now())
            record = TenantDomainPublic.of(view, container.settings)
    except errors.HostplaneError as exc:
        _fail(exc, as_json)
    if as_json:
        print(record.model_dump_json())
    else:
        console.print(f"{org.slug}: deployment domain {record.domain} ({record.status})")
        for r in record.records:
            console.print(f"  {r.type} {r.fqdn} → {r.value}")


@db.command("upgrade")
def db_upgrade(as_json: JsonFlag = False) -> None:
    """Apply database migrations up to the latest revision."""
    from hostplane.db.migrate import current_revision

    container = _container()
    revision = current_revision(container.database)
    if as_json:
        print(json.dumps({"revision": revision}))
    else:
        console.print(f"database at revision {revision}")
