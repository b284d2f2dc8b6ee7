"""Test fixtures: every database test runs on SQLite and, when reachable, on PostgreSQL.

PostgreSQL: HOSTPLANE_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
is the admin connection; the suite creates a database of its own per worker and drops it after.
Set it to "off" to skip PostgreSQL. When CI=true, an unreachable server fails the run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from hostplane.api.app import create_app
from hostplane.api.container import Container
from hostplane.db.engine import Database
from hostplane.db.migrate import upgrade
from hostplane.db.scratch import scratch_database
from hostplane.settings import Settings
from tests.dns_server import Zone, dns_server
from tests.factories import Org, make_org
from tests.fakes import MovableClock

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _pg_admin_url() -> str | None:
    url = os.environ.get("HOSTPLANE_TEST_POSTGRES_URL", DEFAULT_PG)
    return None if url.strip().lower() in ("", "off", "none") else url


def _pg_reachable(url: str) -> bool:
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def pytest_report_header(config: pytest.Config) -> str:
    url = _pg_admin_url()
    state = "off" if url is None else ("reachable" if _pg_reachable(url) else "NOT reachable")
    return f"hostplane: SQLite always; PostgreSQL {state} ({url})"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`postgres_only`: the test runs once, against PostgreSQL (its SQLite case is skipped
    before any of its fixtures are made)."""
    skip = pytest.mark.skip(reason="postgres_only: runs once, against PostgreSQL")
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("postgres_only") and params.get("database_url") == "sqlite":
            item.add_marker(skip)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'hostplane.db'}"
        return
    admin = _pg_admin_url()
    if admin is None or not _pg_reachable(admin):
        if os.environ.get("CI") == "true" and admin is not None:
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {admin}")
        pytest.skip("PostgreSQL not reachable (set HOSTPLANE_TEST_POSTGRES_URL)")
    with scratch_database(admin, "hostplane_test") as url:
        yield url


@pytest.fixture(scope="session")
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


def _sandbox_isolation(scratch: Path) -> str:
    """bubblewrap where it works (CI installs it); else plain processes, which the suite's own
    commands can run as, so the suite also passes on a machine without it."""
    from hostplane.compute.local import LocalDriver

    probe = LocalDriver(scratch, isolation="bubblewrap")
    return "none" if probe.sandbox_status("probe").state == "error" else "bubblewrap"


@pytest.fixture(scope="session", autouse=True)
def _sandboxes_end_with_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Sandboxes outlive the process that started them (as they outlive a hostplane restart):
    whatever the tests left running is stopped, and its cgroups removed, when the run ends."""
    yield
    from hostplane.compute import _disk, _holder
    from hostplane.compute._limits import Cgroups

    cgroups = Cgroups()
    for workspace in tmp_path_factory.getbasetemp().rglob("workspace"):
        home = workspace.parent
        if (home / "identity").exists():
            _holder.stop(home)
            cgroups.remove(home.name)
            _disk.unmount(workspace)  # its loop device too


@pytest.fixture(scope="session")
def dns() -> Iterator[tuple[Zone, str]]:
    """A real DNS server on loopback that every verification in the suite asks (through
    HOSTPLANE_DNS_NAMESERVERS); tests add the records they need under names of their own."""
    with dns_server() as served:
        yield served


@pytest.fixture(scope="session")
def zone(dns: tuple[Zone, str]) -> Zone:
    return dns[0]


@pytest.fixture(scope="session")
def engine_admin() -> Iterator[tuple[str | None, str]]:
    """The PostgreSQL server `postgresql` databases are made on (None: that engine is off), and a
    name prefix of this run's own: whatever the tests leave there is dropped at the end."""
    admin = _pg_admin_url()
    prefix = f"hpt{uuid.uuid4().hex[:8]}_"
    if admin is None or not _pg_reachable(admin):
        yield None, prefix
        return
    yield admin, prefix
    from psycopg import sql

    from hostplane.compute.databases import DatabaseHost

    host = DatabaseHost(Path("/nonexistent"), admin, prefix=prefix)
    with host._admin() as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))]
        roles = [r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix + "%",))]
        for name in names:
            host._disconnect(conn, name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory,
             dns: tuple[Zone, str], engine_admin: tuple[str | None, str]) -> Settings:
    # The spec's own platform values (DESIGN.md), so its example URLs come out exactly.
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        key_last_used_resolution_seconds=60,
        managed_domain="miosa.app",
        preview_domain="miosa.ai",
        computer_domain="computer.miosa.ai",
        proxy_target="proxy.miosa.ai",
        public_scheme="https",
        public_port="",
        sandbox_isolation=_sandbox_isolation(tmp_path_factory.mktemp("probe")),
        # Each desktop costs a second of CPU and ~100 MB: only tests/conformance/test_desktop.py
        # turns them on, for the one computer it shares.
        computer_desktops=False,
        dns_nameservers=dns[1],
        postgres_admin_url=engine_admin[0],
        database_name_prefix=engine_admin[1],
        webhook_allow_loopback=True,  # receivers are local HTTP servers
        # The fuzzer creates hundreds of sandboxes in one organization; the quota tests set
        # their own small quota.
        storage_quota_mb=1 << 27,
    )


@pytest.fixture(scope="session")
def container(settings: Settings, clock: MovableClock) -> Iterator[Container]:
    database = Database(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
    upgrade(database)  # the schema comes from migrations, never create_all
    built = Container(settings=settings, database=database, clock=clock)
    yield built
    built.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def base_url(container: Container) -> Iterator[str]:
    """A real uvicorn server on loopback, in a thread of the test process."""
    app = create_app(container=container)
    port = _free_port()
    yield from _in_thread(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))


def _in_thread(config: uvicorn.Config) -> Iterator[str]:
    """Run a uvicorn server in a thread of the test process until the generator is closed."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def edge_url(container: Container, base_url: str) -> Iterator[str]:
    """The edge router, a real uvicorn server on loopback beside the API over the same container
    (as `hostplane serve` runs them: route changes reach it in-process)."""
    from hostplane.edge.app import create_edge
    from hostplane.edge.serving import edge_config

    yield from _in_thread(edge_config(create_edge(container), host="127.0.0.1",
                                      port=_free_port(), log_level="warning", access_log=False))


@pytest.fixture
def new_org(container: Container, base_url: str) -> Iterator[Callable[..., Org]]:
    made: list[Org] = []

    def factory(**kw: object) -> Org:
        org = make_org(container, base_url, **kw)  # type: ignore[arg-type]
        made.append(org)
        return org

    yield factory
    for org in made:
        org.client.close()


@pytest.fixture
def org(new_org: Callable[..., Org]) -> Org:
    return new_org()


@pytest.fixture
def other_org(new_org: Callable[..., Org]) -> Org:
    return new_org()


@pytest.fixture
def anon(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
