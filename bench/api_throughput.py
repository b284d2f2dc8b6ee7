"""API throughput of hostplane against the ceiling of a bare FastAPI app, on SQLite and PostgreSQL.

Under N concurrent keep-alive connections (default 32) it measures requests/s and p50/p99 latency of
  (a) a bare FastAPI app whose one `async def` route returns a constant dict (bench/bare_app.py):
      the ceiling, measured again right before each database's figures;
  (b) authenticated GET  /api/v1/workspaces/{id};
  (c) authenticated POST /api/v1/workspaces, a unique name each time (a new workspace);
  (d) POST /api/v1/sandboxes with the spec's auto-resolve body (workspace_slug, project_slug,
      external ids: found after the first), the local driver with isolation `none`;
  (e) GET /api/v1/sandboxes/{id}, with its preview URLs;
  (f) POST /api/v1/browser-tokens (mint one for the workspace);
  (g) GET /api/v1/sandboxes/{id} with a browser token,
and prints each as a ratio to (a) of the same block next to its target and a verdict.

Every server is a subprocess started by one and the same uvicorn command line (loop and HTTP parser
"auto" = uvloop/httptools when installed, log level warning, access log off, `--workers N`, default
1), so the load generator never shares a GIL with it. hostplane runs as
`--factory hostplane.api.app:create_app`, which is what `hostplane api` serves, configured by
HOSTPLANE_DATA_DIR / HOSTPLANE_DATABASE_URL. Its organization and key come from
`hostplane accounts create --json`. The load comes from wrk
(`wrk -t2 -cN -dS --latency -s bench/wrk_bench.lua`); without wrk, from a slower asyncio/httpx loop
in a separate process, which the output says. PostgreSQL gets a scratch database, dropped at the end.
Each figure follows a discarded warm-up and a 1 s pause. "CPU ms/req" is the server's own CPU time
per request (all its processes; not PostgreSQL's): on a shared machine it moves less than req/s.

    python bench/api_throughput.py [--seconds 10] [--connections 32] [--workers 1]
                                   [--only sqlite|postgresql] [--skip b,c,...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# What each figure is, and its target ratio to (a) on SQLite / PostgreSQL (issue 19).
MEASUREMENTS = {
    "b": ("GET /workspaces/{id}", (0.35, 0.3)),
    "c": ("POST /workspaces", (0.12, 0.1)),
    "d": ("POST /sandboxes auto-resolve", (0.08, 0.08)),
    "e": ("GET /sandboxes/{id}", (0.35, 0.3)),
    "f": ("POST /browser-tokens", (0.15, 0.15)),
    "g": ("GET /sandboxes/{id} (token)", (0.3, 0.3)),
}
# The spec's auto-resolve body (§2): the workspace and project are found by slug after the first.
SANDBOX_BODY = json.dumps({
    "template_id": "miosa-sandbox", "workspace_slug": "dr-smith-clinic",
    "workspace_name": "Dr. Smith Clinic", "project_slug": "summer-lead-magnet",
    "project_name": "Summer Lead Magnet", "external_workspace_id": "clinic_123",
    "external_user_id": "dr-smith-456", "external_project_id": "project_789",
    "name": "bench {n}"})
RESULT = re.compile(r"BENCH_RESULT (.*)")


def uvicorn_cmd(app: str, port: int, *extra: str, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "uvicorn", app, *extra, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log",
            "--proxy-headers"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], logfile: Path):
    """Run `cmd` until GET /healthz answers 200; yield (base URL, pid); stop it."""
    port = int(cmd[cmd.index("--port") + 1])
    with open(logfile, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=BENCH)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"server did not start: {' '.join(cmd)}\n{logfile.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def load(url: str, method: str, token: str, seconds: float, connections: int,
         body: str | None = None) -> dict[str, float]:
    """One load run; returns requests, duration_us, p50_us, p99_us, non2xx, socket_errors.
    `body`: a JSON template for POST in which every "{n}" becomes unique per request."""
    tag = uuid.uuid4().hex[:8]
    if shutil.which("wrk"):
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-s", str(BENCH / "wrk_bench.lua"), url, "--", method, token, tag,
               *([body] if body else [])]
    else:
        spec = dict(url=url, method=method, token=token, tag=tag, seconds=seconds, n=connections,
                    body=body)
        cmd = [sys.executable, __file__, "--python-loadgen", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = RESULT.search(out)
    if match is None:
        sys.exit(f"no result line from the load generator:\n{out}")
    return {k: float(v) for k, v in (pair.split("=") for pair in match.group(1).split())}


async def python_loadgen(spec: dict) -> None:
    """Fallback generator (no wrk): `n` keep-alive connections in a loop; prints BENCH_RESULT."""
    headers = {} if spec["token"] == "-" else {"Authorization": f"Bearer {spec['token']}"}
    limits = httpx.Limits(max_connections=spec["n"], max_keepalive_connections=spec["n"])
    latencies: list[float] = []
    counts = {"non2xx": 0, "errors": 0}
    names = itertools.count()
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:
        start = time.perf_counter()
        deadline = start + spec["seconds"]

        async def worker(no: int) -> None:
            while (t0 := time.perf_counter()) < deadline:
                unique = f"{spec['tag']}-{no}-{next(names)}"
                body = (spec["body"].replace("{n}", unique) if spec.get("body")
                        else json.dumps({"name": f"bench {unique}"}))
                try:
                    resp = await client.request(
                        spec["method"], spec["url"], content=body if spec["method"] == "POST" else None,
                        headers={"Content-Type": "application/json"})
                except httpx.HTTPError:
                    counts["errors"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                counts["non2xx"] += not 200 <= resp.status_code < 400

        await asyncio.gather(*(worker(no) for no in range(spec["n"])))
        elapsed = time.perf_counter() - start
    done = sorted(latencies) or [0.0]
    p50, p99 = (done[min(len(done) - 1, int(p * len(done)))] * 1e6 for p in (0.50, 0.99))
    print(f"BENCH_RESULT requests={len(latencies)} duration_us={elapsed * 1e6:.0f} p50_us={p50:.0f}"
          f" p99_us={p99:.0f} non2xx={counts['non2xx']} socket_errors={counts['errors']}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (uvicorn's workers), all their
    threads (Linux /proc)."""
    total = 0.0
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    return total


def measure(label: str, url: str, method: str, token: str, pid: int, args: argparse.Namespace,
            body: str | None = None) -> dict:
    """Warm up, then measure; also the server process's CPU time per request (robust to other load)."""
    load(url, method, token, args.warmup, args.connections, body)  # discarded
    time.sleep(1)  # let the server finish requests still queued from the warm-up
    cpu = cpu_seconds(pid)
    r = load(url, method, token, args.seconds, args.connections, body)
    r["cpu_ms"] = (cpu_seconds(pid) - cpu) * 1e3 / max(r["requests"], 1)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    print(f"  {label:<44} {r['rps']:6.0f} req/s, {r['non2xx']:.0f} non-2xx", flush=True)
    return r


@contextlib.contextmanager
def scratch_postgres():
    """A new database on PG_ADMIN's server, dropped afterwards; None if PostgreSQL is unreachable."""
    from sqlalchemy import create_engine, text

    from hostplane.db.scratch import scratch_database

    try:
        engine = create_engine(PG_ADMIN)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        print(f"PostgreSQL skipped: not reachable at {PG_ADMIN} ({type(exc).__name__})")
        yield None
        return
    with scratch_database(PG_ADMIN, "hostplane_bench") as url:
        yield url


@contextlib.contextmanager
def hostplane_server(db_url: str | None, tmp: Path, workers: int):
    """A hostplane server over `db_url` (None: SQLite in a fresh data dir) and an organization's
    key from `hostplane accounts create`; yields (base URL, pid, key)."""
    data_dir = Path(tempfile.mkdtemp(dir=tmp))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTPLANE_")}
    # isolation none: the driver costs little; a quota that 10 s of creates cannot exhaust.
    env |= {"HOSTPLANE_DATA_DIR": str(data_dir), "HOSTPLANE_SANDBOX_ISOLATION": "none",
            "HOSTPLANE_STORAGE_QUOTA_MB": str(2**40)}
    env |= {"HOSTPLANE_DATABASE_URL": db_url} if db_url else {}
    cli = shutil.which("hostplane", path=str(Path(sys.executable).parent)) or "hostplane"
    name = f"Bench {uuid.uuid4().hex[:8]}"
    out = subprocess.run([cli, "accounts", "create", "--name", name, "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    key = json.loads(out.strip().splitlines()[-1])["api_key"]
    cmd = uvicorn_cmd("hostplane.api.app:create_app", free_port(), "--factory", workers=workers)
    try:
        with server(cmd, env, data_dir / "server.log") as (base, pid):
            yield base, pid, key
    finally:
        remove_sandboxes(data_dir / "sandboxes")


def remove_sandboxes(root: Path) -> None:
    """Destroy what (d) created: sandboxes outlive their server on purpose, each with a mounted
    disk image, which the benchmark must not leave behind."""
    from hostplane.compute.local import LocalDriver

    if root.is_dir():
        driver = LocalDriver(root, isolation="none")
        for home in root.iterdir():
            if not home.name.startswith("."):
                with contextlib.suppress(Exception):
                    driver.destroy_sandbox(home.name)


def _post(base: str, path: str, key: str, body: dict) -> dict:
    resp = httpx.post(base + path, json=body, headers={"Authorization": f"Bearer {key}"},
                      timeout=30)
    if resp.status_code not in (200, 201):
        sys.exit(f"POST {path} answered {resp.status_code}: {resp.text}")
    return resp.json()


def bench_hostplane(db_url: str | None, args: argparse.Namespace, tmp: Path) -> dict[str, dict]:
    """(a) again, then (b)–(g) on a hostplane server over `db_url` (None: SQLite)."""
    db = "postgresql" if db_url else "sqlite"
    results = {"a": bench_bare(args, tmp)}
    wanted = [k for k in MEASUREMENTS if k not in args.skip]
    with hostplane_server(db_url, tmp, args.workers) as (base, pid, key):
        workspace = _post(base, "/api/v1/workspaces", key, {"name": "Bench target"})
        sandbox = _post(base, "/api/v1/sandboxes", key, json.loads(SANDBOX_BODY))["data"]
        token = _post(base, "/api/v1/browser-tokens", key, {
            "workspace_id": sandbox["workspace_id"], "permissions": ["sandbox:read"],
            "ttl_seconds": 3600})["data"]["token"]
        runs = {
            "b": (f"{base}/api/v1/workspaces/{workspace['id']}", "GET", key, None),
            "c": (f"{base}/api/v1/workspaces", "POST", key, None),
            "d": (f"{base}/api/v1/sandboxes", "POST", key, SANDBOX_BODY),
            "e": (f"{base}/api/v1/sandboxes/{sandbox['id']}", "GET", key, None),
            "f": (f"{base}/api/v1/browser-tokens", "POST", key, json.dumps({
                "workspace_id": sandbox["workspace_id"], "permissions": ["sandbox:read"],
                "external_user_id": "user {n}"})),
            "g": (f"{base}/api/v1/sandboxes/{sandbox['id']}", "GET", token, None),
        }
        # Creates last, sandboxes last of all: a server still working through a backlog of
        # queued writes (each holding SQLite's one write lock) would starve the next figure.
        for k in sorted(wanted, key="begfcd".index):
            url, method, credential, body = runs[k]
            results[k] = measure(f"({k}) {db} {method} {MEASUREMENTS[k][0]}", url, method,
                                 credential, pid, args, body)
    return results


def bench_bare(args: argparse.Namespace, tmp: Path) -> dict:
    bare_cmd = uvicorn_cmd("bare_app:app", free_port(), workers=args.workers)
    with server(bare_cmd, dict(os.environ), tmp / "bare.log") as (base, pid):
        return measure("(a) bare FastAPI async GET /healthz", base + "/healthz", "GET", "-", pid,
                       args)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    libs = ", ".join(f"{p} {version(p)}" for p in
                     ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "sqlalchemy", "psycopg"))
    wrk = shutil.which("wrk")
    loadgen = (subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
               if wrk else "Python asyncio/httpx fallback (wrk not found; the client is the limit: "
                           "expect compressed ratios)")
    git = ["git", "-C", str(BENCH.parent)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--short", "src"], capture_output=True, text=True)
    return (f"machine: nproc {os.cpu_count()}, {model}, load average {loadavg()}\n"
            f"python:  {platform.python_version()} ({sys.executable})\nlibs:    {libs}\n"
            f"code:    hostplane {version('hostplane')}, git {commit.stdout.strip() or '?'}, "
            f"{len(dirty.stdout.splitlines())} uncommitted change(s) under src/\nload:    {loadgen}")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(rows: dict[str, dict[str, dict]]) -> str:
    head = f"{'database':<11} {'measurement':<34} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} " \
           f"{'non-2xx':>7} {'CPU ms/req':>10} {'ratio':>9} {'target':>7}  verdict"
    lines = [head, "-" * len(head)]

    def line(db: str, what: str, r: dict, ratio: str = "", target: str = "", verdict: str = "") -> None:
        lines.append(f"{db:<11} {what:<34} {r['rps']:7.0f} {r['p50_us'] / 1e3:7.1f} "
                     f"{r['p99_us'] / 1e3:7.1f} {r['non2xx']:7.0f} {r['cpu_ms']:10.2f} {ratio:>9} "
                     f"{target:>7}  {verdict}")

    for db, results in rows.items():
        bare = results["a"]
        line(db, "(a) bare FastAPI async route", bare)  # CPU: the server alone, not PostgreSQL
        for key, (what, targets) in MEASUREMENTS.items():
            if key not in results:
                continue
            target = targets[db == "postgresql"]
            ratio = results[key]["rps"] / bare["rps"]
            verdict = "meets" if ratio >= target else "BELOW target"
            verdict += "" if results[key]["non2xx"] == 0 else " (non-2xx answers!)"
            verdict += "" if results[key]["socket_errors"] == 0 else \
                f" ({results[key]['socket_errors']:.0f} timeouts/socket errors)"
            verdict += "" if shutil.which("wrk") else " (client-bound: not comparable)"
            line(db, f"({key}) {what}", results[key], f"{key}/a {ratio:.2f}", f">= {target}",
                 verdict)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each measurement")
    parser.add_argument("--warmup", type=float, default=2, help="discarded warm-up before each")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes, for all")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument("--skip", default="", help="comma-separated letters of figures to skip")
    parser.add_argument("--python-loadgen", help=argparse.SUPPRESS)  # internal: fallback generator
    args = parser.parse_args()
    if args.python_loadgen:
        asyncio.run(python_loadgen(json.loads(args.python_loadgen)))
        return
    args.seconds, args.warmup = int(args.seconds), max(1, int(args.warmup))  # wrk takes whole seconds
    args.skip = set(args.skip.split(","))
    print(machine())
    print("server:  " + " ".join(uvicorn_cmd("<APP>", 0, workers=args.workers))
          .replace("--port 0", "--port <P>")
          + "  (hostplane adds --factory, APP = hostplane.api.app:create_app; bare: bare_app:app)")
    print(f"run:     {args.connections} connections, {args.warmup} s warm-up + {args.seconds} s each\n",
          flush=True)

    rows: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="hostplane_bench_") as tmpdir:
        tmp = Path(tmpdir)
        if args.only in (None, "sqlite") and args.workers > 1:
            print("SQLite skipped: `hostplane api --workers N` refuses SQLite (one process).")
        elif args.only in (None, "sqlite"):
            rows["sqlite"] = bench_hostplane(None, args, tmp)
        if args.only in (None, "postgresql"):
            with scratch_postgres() as pg_url:
                if pg_url is not None:
                    rows["postgresql"] = bench_hostplane(pg_url, args, tmp)
    print(f"\nload average at the end {loadavg()} (other work on this machine skews the figures)")
    print(table(rows))


if __name__ == "__main__":
    main()
