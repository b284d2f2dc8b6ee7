"""API throughput of hostplane against the ceiling of a bare FastAPI app, on SQLite and PostgreSQL.

Under N concurrent keep-alive connections (default 32) it measures requests/s and p50/p99 latency of
  (a) a bare FastAPI app whose one route returns a constant dict (bench/bare_app.py): the ceiling;
  (b) authenticated GET  /api/v1/workspaces/{id} on hostplane;
  (c) authenticated POST /api/v1/workspaces on hostplane, a unique name each time (a new workspace),
and prints b/a and c/a per database next to the targets (b/a >= 0.6, c/a >= 0.3). It only reports.

Every server is a subprocess started by one and the same uvicorn command line (one process, loop and
HTTP parser "auto" = uvloop/httptools when installed, log level warning, access log off), so the load
generator never shares a GIL with it. hostplane runs as `--factory hostplane.api.app:create_app`,
which is what `hostplane api` serves, configured by HOSTPLANE_DATA_DIR / HOSTPLANE_DATABASE_URL.
Its organization and key come from `hostplane accounts create --json`. The load comes from wrk
(`wrk -t2 -cN -dS --latency -s bench/wrk_bench.lua`); without wrk, from a slower asyncio/httpx loop
in a separate process, which the output says. PostgreSQL gets a scratch database, dropped at the end.
Each figure follows a discarded warm-up and a 1 s pause. "CPU ms/req" is the server process's own
CPU time per request (not PostgreSQL's): on a shared machine it moves less than req/s does.

    python bench/api_throughput.py [--seconds 10] [--connections 32] [--only sqlite|postgresql]
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
TARGETS = {"b": 0.6, "c": 0.3}
RESULT = re.compile(r"BENCH_RESULT (.*)")


def uvicorn_cmd(app: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", app, *extra, "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-access-log", "--proxy-headers"]


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
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
def hostplane_server(db_url: str | None, tmp: Path):
    """A hostplane server over `db_url` (None: SQLite in a fresh data dir) and an organization's
    key from `hostplane accounts create`; yields (base URL, pid, key)."""
    data_dir = Path(tempfile.mkdtemp(dir=tmp))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTPLANE_")}
    env |= {"HOSTPLANE_DATA_DIR": str(data_dir)} | ({"HOSTPLANE_DATABASE_URL": db_url} if db_url else {})
    cli = shutil.which("hostplane", path=str(Path(sys.executable).parent)) or "hostplane"
    name = f"Bench {uuid.uuid4().hex[:8]}"
    out = subprocess.run([cli, "accounts", "create", "--name", name, "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    key = json.loads(out.strip().splitlines()[-1])["api_key"]
    cmd = uvicorn_cmd("hostplane.api.app:create_app", free_port(), "--factory")
    with server(cmd, env, data_dir / "server.log") as (base, pid):
        yield base, pid, key


def bench_hostplane(db_url: str | None, args: argparse.Namespace, tmp: Path) -> dict[str, dict]:
    """(b) and (c) on a hostplane server over `db_url` (None: SQLite in a fresh data dir)."""
    with hostplane_server(db_url, tmp) as (base, pid, key):
        resp = httpx.post(base + "/api/v1/workspaces", json={"name": "Bench target"},
                          headers={"Authorization": f"Bearer {key}"}, timeout=10)
        if resp.status_code != 201:
            sys.exit(f"creating the workspace for (b) answered {resp.status_code}: {resp.text}")
        get_url = f"{base}/api/v1/workspaces/{resp.json()['id']}"
        db = "postgresql" if db_url else "sqlite"
        return {"b": measure(f"(b) {db} GET /api/v1/workspaces/{{id}}", get_url, "GET", key, pid, args),
                "c": measure(f"(c) {db} POST /api/v1/workspaces", base + "/api/v1/workspaces", "POST",
                             key, pid, args)}


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


def table(bare: dict, rows: dict[str, dict[str, dict]]) -> str:
    head = f"{'database':<11} {'measurement':<30} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} " \
           f"{'non-2xx':>7} {'CPU ms/req':>10} {'ratio':>9} {'target':>7}  verdict"
    lines = [head, "-" * len(head)]

    def line(db: str, what: str, r: dict, ratio: str = "", target: str = "", verdict: str = "") -> None:
        lines.append(f"{db:<11} {what:<30} {r['rps']:7.0f} {r['p50_us'] / 1e3:7.1f} "
                     f"{r['p99_us'] / 1e3:7.1f} {r['non2xx']:7.0f} {r['cpu_ms']:10.2f} {ratio:>9} "
                     f"{target:>7}  {verdict}")

    line("-", "(a) bare FastAPI GET /healthz", bare)  # CPU: the server process alone, not PostgreSQL
    for db, results in rows.items():
        for key, what in (("b", "(b) GET /workspaces/{id}"), ("c", "(c) POST /workspaces")):
            ratio = results[key]["rps"] / bare["rps"]
            verdict = "meets" if ratio >= TARGETS[key] else "BELOW target"
            verdict += "" if shutil.which("wrk") else " (client-bound: not comparable)"
            line(db, what, results[key], f"{key}/a {ratio:.2f}", f">= {TARGETS[key]}", verdict)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each measurement")
    parser.add_argument("--warmup", type=float, default=2, help="discarded warm-up before each")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument("--python-loadgen", help=argparse.SUPPRESS)  # internal: fallback generator
    args = parser.parse_args()
    if args.python_loadgen:
        asyncio.run(python_loadgen(json.loads(args.python_loadgen)))
        return
    args.seconds, args.warmup = int(args.seconds), max(1, int(args.warmup))  # wrk takes whole seconds
    print(machine())
    print("server:  " + " ".join(uvicorn_cmd("<APP>", 0)).replace("--port 0", "--port <P>")
          + "  (hostplane adds --factory, APP = hostplane.api.app:create_app; bare: bare_app:app)")
    print(f"run:     {args.connections} connections, {args.warmup} s warm-up + {args.seconds} s each\n",
          flush=True)

    rows: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="hostplane_bench_") as tmpdir:
        tmp = Path(tmpdir)
        bare_cmd = uvicorn_cmd("bare_app:app", free_port())
        with server(bare_cmd, dict(os.environ), tmp / "bare.log") as (base, pid):
            bare = measure("(a) bare FastAPI GET /healthz", base + "/healthz", "GET", "-", pid, args)
        if args.only in (None, "sqlite"):
            rows["sqlite"] = bench_hostplane(None, args, tmp)
        if args.only in (None, "postgresql"):
            with scratch_postgres() as pg_url:
                if pg_url is not None:
                    rows["postgresql"] = bench_hostplane(pg_url, args, tmp)
    print(f"\nload average at the end {loadavg()} (other work on this machine skews the figures)")
    print(table(bare, rows))


if __name__ == "__main__":
    main()
