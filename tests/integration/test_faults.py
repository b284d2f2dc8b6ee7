"""Faults (issue "Events, webhooks …" item 4), with real processes: the database going away and
coming back while hostplane serves, a process killed in the middle of writes, and a graceful stop
that lets requests in flight finish."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import _free_port
from tests.edge.helpers import wait_for
from tests.edge.test_serve import _start, _stop, _up

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def _as_postgres(*argv: str) -> None:
    # No pipes: a started server would hold them open, and the call would never return.
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    if os.geteuid() != 0 or PG_BIN is None or shutil.which("runuser") is None:
        pytest.skip("needs root and the Debian PostgreSQL server binaries")
    # Outside pytest's own temporary folders, which only root may enter.
    home = Path(tempfile.mkdtemp(prefix="hostplane-pg-"))
    home.chmod(0o755)
    data = home / "data"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    try:
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data, port
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(data), "stop", "-m", "immediate"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _pg(data: Path, port: int, action: str) -> None:
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data}"
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                 str(data / "server.log"), "-w", "-m", "fast", action)


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTPLANE_")}
    env.update({"HOSTPLANE_DATA_DIR": str(tmp_path / "data"),
                "HOSTPLANE_DATABASE_URL": database_url, "HOSTPLANE_SANDBOX_ISOLATION": "none"})
    return env


def _account(env: dict[str, str]) -> str:
    made = subprocess.run([sys.executable, "-m", "hostplane.cli", "accounts", "create", "--name",
                           f"Faults {time.time_ns()}", "--json"], env=env, capture_output=True,
                          check=True)
    return json.loads(made.stdout)["api_key"]


def test_a_database_restart_is_a_503_with_retry_after_then_it_recovers(private_postgres,
                                                                       tmp_path):
    url, data, port = private_postgres
    _pg(data, port, "start")
    env = _env(tmp_path, url)
    api_port = _free_port()
    api = _start(["api", "--port", str(api_port)], env, tmp_path / "api.log")
    try:
        base = f"http://127.0.0.1:{api_port}"
        wait_for(lambda: _up(f"{base}/healthz"), 60)
        client = httpx.Client(base_url=base, timeout=30,
                              headers={"Authorization": f"Bearer {_account(env)}"})
        assert client.get("/api/v1/workspaces").status_code == 200

        _pg(data, port, "stop")
        down = client.get("/api/v1/workspaces")
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert error["code"] == "DATABASE_UNAVAILABLE" and error["retry_after"] > 0
        assert down.headers["retry-after"]
        assert client.post("/api/v1/workspaces", json={"name": "Lost"}).status_code == 503
        assert client.get("/readyz").status_code == 503

        _pg(data, port, "start")  # the same hostplane process, never restarted
        wait_for(lambda: client.get("/api/v1/workspaces").status_code == 200, 10)
        made = client.post("/api/v1/workspaces", json={"name": "After"})
        assert made.status_code == 201, made.text
        names = [w["name"] for w in client.get("/api/v1/workspaces").json()["data"]]
        assert "After" in names and "Lost" not in names
        assert client.get("/readyz").status_code == 200
    finally:
        _stop(api)
    assert "Traceback" not in (tmp_path / "api.log").read_text()


def _hammer(base: str, key: str, acknowledged: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=10,
                      headers={"Authorization": f"Bearer {key}"}) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                resp = client.post("/api/v1/workspaces",
                                   json={"name": f"W {threading.get_ident()} {n}"})
            except httpx.HTTPError:
                return  # the server is gone
            if resp.status_code == 201:
                acknowledged.append(resp.json()["id"])


def test_kill_9_in_the_middle_of_writes_loses_no_acknowledged_write(tmp_path, database_url):
    """`hostplane serve` (API, worker and edge in one process) killed with -9 during a burst of
    creates: every workspace the API answered 201 for is there after a restart, each with its
    default project and with the events of both (nothing half-made: no row without its event,
    no event without its row), and the database is intact."""
    env = _env(tmp_path, database_url)
    if database_url.startswith("sqlite"):
        env.pop("HOSTPLANE_DATABASE_URL")
    env["HOSTPLANE_EDGE_PORT"] = str(_free_port())
    key = _account(env)
    port = _free_port()
    api = _start(["serve", "--port", str(port)], env, tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    stop = threading.Event()
    try:
        wait_for(lambda: _up(f"{base}/healthz"), 60)
        writers = [threading.Thread(target=_hammer, args=(base, key, acknowledged, stop))
                   for _ in range(4)]
        for w in writers:
            w.start()
        wait_for(lambda: len(acknowledged) >= 20, 30)
        os.killpg(os.getpgid(api.pid), signal.SIGKILL)  # mid-write: the writers are still going
        api.wait()
        stop.set()
        for w in writers:
            w.join()
    finally:
        stop.set()
        if api.poll() is None:
            _stop(api)
    api = _start(["serve", "--port", str(port)], env, tmp_path / "api2.log")
    try:
        wait_for(lambda: _up(f"{base}/healthz"), 60)
        with httpx.Client(base_url=base, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            workspaces = _every(client, "/api/v1/workspaces")
            projects = _every(client, "/api/v1/projects")
            told = _every(client, "/api/v1/events",
                          {"types": "workspace.created,project.created"})
        assert set(acknowledged) <= {w["id"] for w in workspaces}
        # Nothing half-made: every workspace there (acknowledged or not) has its default project.
        assert {w["id"] for w in workspaces} == {p["workspace_id"] for p in projects}
        # ... and each row its one event, each event its row (the outbox commits with them).
        made = sorted(e["object_id"] for e in told if e["type"] == "workspace.created")
        assert made == sorted(w["id"] for w in workspaces)
        assert sorted(e["object_id"] for e in told if e["type"] == "project.created") == \
            sorted(p["id"] for p in projects)
    finally:
        _stop(api)
    if database_url.startswith("sqlite"):
        with sqlite3.connect(tmp_path / "data" / "hostplane.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _every(client: httpx.Client, path: str, params: dict | None = None) -> list[dict]:
    found, cursor = [], None
    while True:
        page = client.get(path, params={**(params or {}), "limit": 200,
                                        **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        found += page.json()["data"]
        cursor = page.json().get("next_cursor")
        if not cursor:
            return found


TICKER = """
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # an event stream that never ends by itself
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        n = 0
        while True:
            n += 1
            self.wfile.write(b"id: %d\\ndata: tick\\n\\n" % n)
            self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
"""


def _read_stream(client: httpx.Client, url: str, ended: dict[str, object], **kw) -> None:
    """Read an event stream to its end: `ended` says how it ended (cleanly or with what error)
    and the last event id seen."""
    try:
        with client.stream("GET", url, timeout=httpx.Timeout(30, read=30), **kw) as resp:
            ended["status"] = resp.status_code
            for line in resp.iter_lines():
                if line.startswith("id: "):
                    ended["last_id"] = line[4:]
        ended["clean"] = True
    except httpx.HTTPError as exc:
        ended["clean"] = False
        ended["error"] = repr(exc)


def test_sigterm_drains_requests_and_ends_streams_within_the_grace_period(tmp_path,
                                                                          database_url):
    """`hostplane serve`, SIGTERM: a request in flight (a command taking 1.5 s) gets its answer;
    the API's event stream and event streams relayed by the edge (on its fast path and through
    its ASGI app) end at once and cleanly, as a reconnecting client expects; a request that would
    outlive the grace period is cut at its end; the process exits 0 within it."""
    if not database_url.startswith("sqlite"):
        pytest.skip("one database is enough for the shutdown itself")
    grace = 3.0
    env = _env(tmp_path, database_url)
    env.pop("HOSTPLANE_DATABASE_URL")
    api_port, edge_port = _free_port(), _free_port()
    env.update({"HOSTPLANE_SHUTDOWN_GRACE_SEC": str(grace), "HOSTPLANE_EDGE_PORT": str(edge_port),
                "HOSTPLANE_PUBLIC_PORT": str(edge_port)})
    key = _account(env)
    serve = _start(["serve", "--port", str(api_port)], env, tmp_path / "serve.log")
    base, edge = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{edge_port}"
    try:
        wait_for(lambda: _up(f"{base}/healthz"), 60)
        client = httpx.Client(base_url=f"{base}/api/v1", timeout=30,
                              headers={"Authorization": f"Bearer {key}"})
        sandbox = client.post("/sandboxes", json={}).json()["data"]
        port = _free_port()  # sandboxes without isolation share the host's ports
        client.post(f"/sandboxes/{sandbox['id']}/fs/write",
                    json={"path": "ticker.py", "content": TICKER})
        client.post(f"/sandboxes/{sandbox['id']}/processes",
                    json={"command": f"python3 ticker.py {port}"})
        wait_for(lambda: client.get(f"/sandboxes/{sandbox['id']}/ports")
                 .json()["data"]["ports"], 30)
        host = urlsplit(sandbox["preview_url"]).netloc.replace("5173-", f"{port}-", 1)

        streams: dict[str, dict[str, object]] = {name: {} for name in
                                                 ("events", "fast path", "app path")}
        plain = httpx.Client(timeout=30)
        readers = [
            threading.Thread(target=_read_stream, args=(client, "/events/stream",
                                                        streams["events"])),
            threading.Thread(target=_read_stream, args=(plain, f"{edge}/",
                                                        streams["fast path"]),
                             kwargs={"headers": {"Host": host}}),
            # A request with a chunked body is handed over to the edge's ASGI app, which
            # relays the stream itself (edge/fast.py).
            threading.Thread(target=_read_stream, args=(plain, f"{edge}/",
                                                        streams["app path"]),
                             kwargs={"headers": {"Host": host}, "content": iter([b"x"])}),
        ]
        answers: dict[str, object] = {}

        def run(name: str, command: str) -> None:
            try:
                answers[name] = client.post(f"/sandboxes/{sandbox['id']}/exec",
                                            json={"command": command, "timeout": 120})
            except httpx.HTTPError as exc:
                answers[name] = exc

        running = [threading.Thread(target=run, args=("short", "sleep 1.5; echo done")),
                   threading.Thread(target=run, args=("long", "sleep 60"))]
        for thread in readers + running:
            thread.start()
        client.post("/workspaces", json={"name": "Seen by the stream"})
        wait_for(lambda: all(s.get("last_id") for s in streams.values()), 10)
        time.sleep(0.3)

        os.kill(serve.pid, signal.SIGTERM)
        signalled = time.monotonic()
        for thread in readers:
            thread.join(grace)
        assert all(not t.is_alive() for t in readers), streams
        assert time.monotonic() - signalled < 1.5, "the streams held the stop"
        assert all(s["clean"] and s["status"] == 200 for s in streams.values()), streams
        assert serve.wait(timeout=grace + 5) == 0
        took = time.monotonic() - signalled
        assert took < grace + 2, f"the stop took {took:.1f} s"
        for thread in running:
            thread.join(10)
        short = answers["short"]
        assert isinstance(short, httpx.Response) and short.status_code == 200, short
        assert short.json()["data"]["stdout"].strip() == "done"
        long = answers["long"]  # cut at the deadline: uvicorn answers 500 or hangs up
        assert not isinstance(long, httpx.Response) or long.status_code == 500, long
    finally:
        if serve.poll() is None:
            _stop(serve)
    log = (tmp_path / "serve.log").read_text()
    assert "timeout graceful shutdown exceeded" in log  # the operator learns what was cut


def test_a_full_disk_during_an_upload_is_507_and_leaves_no_version(tmp_path, database_url):
    """The data dir on a 16 MB filesystem and a 9 MB build, which needs twice that while it is
    staged: 507 INSUFFICIENT_STORAGE, no version, nothing left in staging; the next upload that
    fits works."""
    import io
    import tarfile

    if not database_url.startswith("sqlite"):
        pytest.skip("the disk, not the database, is under test")
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    data = tmp_path / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(data)], check=True)
    try:
        env = _env(tmp_path, database_url)
        env.pop("HOSTPLANE_DATABASE_URL")
        env["HOSTPLANE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'hostplane.db'}"  # not full
        key = _account(env)
        port = _free_port()
        api = _start(["api", "--port", str(port)], env, tmp_path / "api.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _up(f"{base}/healthz"), 60)
            client = httpx.Client(base_url=f"{base}/api/v1", timeout=60,
                                  headers={"Authorization": f"Bearer {key}"})
            dep = client.post("/deployments", json={"name": "Full"}).json()["data"]

            def build(size: int) -> bytes:
                out = io.BytesIO()
                with tarfile.open(fileobj=out, mode="w") as tar:  # plain tar: no compression
                    info = tarfile.TarInfo("blob.bin")
                    info.size = size
                    tar.addfile(info, io.BytesIO(os.urandom(size)))
                return out.getvalue()

            full = client.post(f"/deployments/{dep['id']}/versions", content=build(9 << 20),
                               headers={"Content-Type": "application/x-tar"})
            assert full.status_code == 507, full.text
            assert full.json()["error"]["code"] == "INSUFFICIENT_STORAGE"
            assert client.get(f"/deployments/{dep['id']}/versions").json()["data"] == []
            assert not any((data / "releases" / "staging").iterdir())
            fits = client.post(f"/deployments/{dep['id']}/versions", content=build(1 << 20),
                               headers={"Content-Type": "application/x-tar"})
            assert fits.status_code == 201, fits.text
        finally:
            _stop(api)
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


class _HangingReceiver:
    """A webhook endpoint that never answers its first request (the worker sending it is killed
    meanwhile) and answers 200 to the ones after."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.got: list[dict[str, str]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append({k.lower(): v for k, v in self.headers.items()})
                if len(receiver.got) == 1:
                    receiver.release.wait(60)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.mark.postgres_only
def test_a_worker_killed_mid_delivery_is_taken_over_when_its_lease_runs_out(tmp_path,
                                                                           database_url):
    """kill -9 of a worker while its webhook delivery hangs: the endpoint stays leased to it
    (another worker does not send meanwhile: never two at once), and once the lease has run out
    the other worker delivers the same event (same Webhook-Id: at least once), records it and
    moves the cursor. A SIGTERM then stops that worker with status 0."""
    from sqlalchemy import func, select, update

    from hostplane.api.container import Container
    from hostplane.db.scope import Scope
    from hostplane.db.scratch import scratch_database
    from hostplane.events import recorder
    from hostplane.settings import Settings
    from hostplane.webhooks import service
    from hostplane.webhooks.models import Webhook, WebhookDelivery
    from tests.conftest import _pg_admin_url

    receiver = _HangingReceiver()
    with scratch_database(_pg_admin_url(), "hostplane_lease") as url:
        env = _env(tmp_path, url)
        env["HOSTPLANE_WEBHOOK_ALLOW_LOOPBACK"] = "1"
        key_env = dict(env)
        _account(key_env)  # migrates, and makes an organization
        container = Container.build(Settings(data_dir=tmp_path / "data", database_url=url,
                                             webhook_allow_loopback=True))
        workers: list[subprocess.Popen[bytes]] = []
        try:
            from hostplane.tenancy.models import Tenant

            with container.database.transaction() as session:
                tenant_id = session.scalar(select(Tenant.id))
                scope = Scope(session, tenant_id)
                webhook_id = service.create(scope, receiver.url, ["*"], None,
                                            container.clock.now(), allow_loopback=True).id
            with container.database.transaction() as session:
                recorder.emit(session, tenant_id, "workspace.created", "workspace", "w-1")

            def webhook() -> Webhook:
                with container.database.transaction(write=False) as session:
                    found = session.get(Webhook, webhook_id)
                    session.expunge_all()
                    return found

            workers.append(_start(["worker", "--interval", "60"], env, tmp_path / "w1.log"))
            wait_for(lambda: receiver.got, 30)
            os.killpg(os.getpgid(workers[0].pid), signal.SIGKILL)
            workers[0].wait()
            held = webhook()
            assert held.lease_owner and held.cursor == 0

            workers.append(_start(["worker", "--interval", "60"], env, tmp_path / "w2.log"))
            time.sleep(3)  # the second worker is up and polling every second
            assert len(receiver.got) == 1, "sent while another worker's lease held"
            with container.database.transaction() as session:  # the lease runs out
                session.execute(update(Webhook).where(Webhook.id == webhook_id).values(
                    leased_until=container.clock.now().replace(year=2000)))
            wait_for(lambda: webhook().cursor > 0, 15)
            assert [h["webhook-id"] for h in receiver.got] == [receiver.got[0]["webhook-id"]] * 2
            with container.database.transaction(write=False) as session:
                recorded = session.scalar(select(func.count()).select_from(WebhookDelivery)
                                          .where(WebhookDelivery.status == "delivered"))
            assert recorded == 1
            os.killpg(os.getpgid(workers[1].pid), signal.SIGTERM)
            assert workers[1].wait(timeout=30) == 0
        finally:
            receiver.close()
            for proc in workers:
                if proc.poll() is None:
                    _stop(proc)
            container.database.engine.dispose()
