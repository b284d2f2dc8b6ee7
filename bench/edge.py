"""The edge router against nginx and Caddy, in one run on one machine, against the same upstream
(issue 13 §7).

The upstream is one sandbox's HTTP/1.1 keep-alive server (an asyncio protocol on uvloop answering
a fixed 1 KiB body; it writes its pid beside itself so the benchmark can end it whatever happens).
`hostplane serve` runs over a fresh data dir with HOSTPLANE_SANDBOX_ISOLATION=none, so the
sandbox's server listens on the host's loopback and nginx and Caddy reach the very port the edge
reaches. wrk (`-t2 -c32 --latency`, a discarded warm-up first) loads:

  (1) the upstream directly;            (2) nginx proxy_pass, upstream keepalive, 1 worker;
  (3) Caddy reverse_proxy (Go, every core); (4) the edge of `hostplane serve` (the preview Host);
  (5) `hostplane edge --workers 2`, a process of its own over the same database;

and prints req/s, p50, p99, the proxy's CPU per request, edge/Caddy and edge/nginx in req/s and
the p50 each proxy adds to the direct one, also with one connection (the added latency without
queueing). Then:
  (a) a deployment's 1 KiB static file through the edge against nginx serving it from disk;
  (b) route lookups at N routes (--routes): N sandbox rows bulk-inserted, `Router.lookup(host)`
      (the database, no cache) timed for random existing hosts, p50/p99 and the ratio of the
      largest N to the smallest; the edge holds no route table, so the memory figure is a
      standalone edge's RSS once its route cache holds --cache-entries hosts;
  (c) change→served: a sandbox stopped through the API until the edge answers SANDBOX_STOPPED,
      a deployment version promoted until the edge serves its content, in the process that made
      the change (`serve`) and in the separate edge process.
Targets printed beside: edge ≥ 1.0× Caddy and ≥ 0.8× nginx in req/s, added p50 ≤ 1 ms, 1M/1k
lookup ≤ 1.1×, change→served ≤ 100 ms in one process. It only reports. HOSTPLANE_EDGE_REQUESTS_
PER_SECOND_PER_ORG is raised to 10^6 so the per-organization limit (2000/s) is not what is measured.

    python bench/edge.py [--seconds 10 | --quick] [--routes 1000,100000,1000000]
                         [--cache-entries 99990] [--postgres ADMIN_URL]
                         [--repeat N] [--skip single,static,change,lookups]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_throughput import free_port, loadavg, machine  # noqa: E402

BENCH = Path(__file__).resolve().parent
SERVE_PIDS: set[int] = set()  # `hostplane serve` processes: their children are sandboxes
BODY_SIZE = 1024
CONNECTIONS = 32
TARGETS = {"caddy": 1.0, "nginx": 0.8, "added_p50_ms": 1.0, "lookup_ratio": 1.1, "change_ms": 100}

# Runs inside the sandbox: one fixed response per request head, pipelining included.
UPSTREAM = r'''
import asyncio, os, sys
BODY = b"x" * 1023 + b"\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
            % len(BODY)) + BODY
class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.pending = transport, b""
    def data_received(self, data):
        data = self.pending + data
        heads = data.count(b"\r\n\r\n")
        self.pending = data[data.rfind(b"\r\n\r\n") + 4:] if heads else data
        if heads:
            self.transport.write(RESPONSE * heads)
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    with open("upstream.pid", "w") as f:
        f.write(str(os.getpid()))
    await server.serve_forever()
try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
'''


# Processes

class Procs:
    """Every process the benchmark starts, each in its own process group, ended at exit."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.running = tmp, []

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, env=env, cwd=cwd or self.tmp, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        proc.log = log  # type: ignore[attr-defined]
        proc.name = name  # type: ignore[attr-defined]
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # stragglers of the group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.log.close()  # type: ignore[attr-defined]
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.running)):
            self.stop(proc)

    def log(self, proc: subprocess.Popen) -> str:
        return (self.tmp / f"{proc.name}.log").read_text(errors="replace")[-3000:]  # type: ignore[attr-defined]


def wait_http(proc: subprocess.Popen, procs: Procs, url: str, host: str | None = None,
              seconds: float = 180) -> None:
    """Until `url` answers anything (with `host` as Host), or exit with the process's log."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, headers={"Host": host} if host else None, timeout=2)
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{proc.name} did not start:\n{procs.log(proc)}")  # type: ignore[attr-defined]
        time.sleep(0.1)


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def cpu_seconds(root: int, tree: bool = True) -> float:
    """User + system CPU of a process and its descendants (or of the process alone)."""
    total = 0.0
    for pid in tree_pids(root) if tree else [root]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


# Load

def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(url: str, seconds: int, connections: int, host: str | None) -> dict[str, float]:
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
           "--timeout", "10s", *(["-H", f"Host: {host}"] if host else []), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         timeout=seconds + 60).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50": to_ms(latency["50"]), "p99": to_ms(latency["99"]),
            "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
            "errors": float(sum(map(int, errors.groups())) if errors else 0),
            "non2xx": float(non2xx.group(1) if non2xx else 0)}


def measure(label: str, url: str, host: str | None, pid: int, args: argparse.Namespace,
            connections: int = CONNECTIONS, seconds: int | None = None,
            body_check: bytes | None = None) -> dict[str, float]:
    """Check one response, warm up (discarded), then measure; with the server's CPU per request.
    `pid`'s descendants count too (nginx's worker, the edge's workers), except under `hostplane
    serve`, whose children are the sandbox's processes (the upstream itself)."""
    tree = pid not in SERVE_PIDS
    resp = httpx.get(url, headers={"Host": host} if host else None, timeout=10)
    if resp.status_code != 200 or len(resp.content) != BODY_SIZE or \
            (body_check is not None and body_check not in resp.content):
        sys.exit(f"{label}: {resp.status_code} with {len(resp.content)} bytes: "
                 f"{resp.content[:300]!r}")
    wrk(url, args.warmup, connections, host)
    time.sleep(0.5)
    cpu = cpu_seconds(pid, tree)
    r = wrk(url, seconds or args.seconds, connections, host)
    r["cpu_ms"] = (cpu_seconds(pid, tree) - cpu) * 1e3 / max(r["requests"], 1)
    print(f"  {label:<42} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
          f"  {r['cpu_ms']:.3f} CPU ms/req  errors {r['errors'] + r['non2xx']:.0f}", flush=True)
    return r


# hostplane

def hostplane_env(data_dir: Path, db_url: str | None, edge_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTPLANE_")}
    return env | {"HOSTPLANE_DATA_DIR": str(data_dir), "HOSTPLANE_SANDBOX_ISOLATION": "none",
                  "HOSTPLANE_EDGE_PORT": str(edge_port),
                  "HOSTPLANE_EDGE_REQUESTS_PER_SECOND_PER_ORG": "1000000"} \
        | ({"HOSTPLANE_DATABASE_URL": db_url} if db_url else {})


def cli() -> str:
    return shutil.which("hostplane", path=str(Path(sys.executable).parent)) or "hostplane"


def archive(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def page(marker: str) -> bytes:
    """A 1 KiB HTML file carrying `marker`."""
    head = f"<!doctype html><title>{marker}</title><p>".encode()
    return head + b"x" * (BODY_SIZE - len(head) - 1) + b"\n"


def ok(resp: httpx.Response, status: int = 200) -> dict:
    if resp.status_code != status:
        sys.exit(f"{resp.request.method} {resp.request.url} answered {resp.status_code}: "
                 f"{resp.text[:500]}")
    return resp.json()["data"]


def upstream_pids(data_dir: Path) -> list[int]:
    pids = []
    for found in (data_dir / "sandboxes").rglob("upstream.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(found.read_text()))
    return pids


# (c) change→served

def poll(client: httpx.Client, url: str, done, deadline: float) -> float | None:
    """perf_counter() of the first answer at `url` for which done(resp) is true."""
    while time.perf_counter() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if done(client.get(url)):
                return time.perf_counter()
    return None


def edge_client(host: str) -> httpx.Client:
    return httpx.Client(headers={"Host": host, "Accept": "application/json"}, timeout=5)


def change_latency(change, edges: dict[str, str], host: str, done) -> dict[str, float]:
    """Make a change; ms from the API's answer until each edge (name → URL) serves it. The
    pollers' clients are made and connected before the change."""
    seen: dict[str, float | None] = {}
    go = threading.Event()
    ready = threading.Barrier(len(edges) + 1)

    def watch(name: str, url: str) -> None:
        with edge_client(host) as client:
            client.get(url)
            ready.wait(10)
            go.wait(10)
            seen[name] = poll(client, url, done, time.perf_counter() + 10)

    threads = [threading.Thread(target=watch, args=item) for item in edges.items()]
    for thread in threads:
        thread.start()
    ready.wait(10)
    change()
    answered = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join(15)
    return {name: (t - answered) * 1e3 if t is not None else float("nan")
            for name, t in seen.items()}


def code_of(resp: httpx.Response) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return resp.json()["error"]["code"]
    return ""


# (b) routes

def lookup_figures(db_url: str, data_dir: Path, sizes: list[int], lookups: int,
                   template_id: str) -> tuple[list[dict], list[str]]:
    """Bulk-insert sandbox rows up to each size, time uncached lookups; returns the rows and the
    hosts inserted."""
    from sqlalchemy import insert, select

    from hostplane.db.engine import Database
    from hostplane.edge.cache import RouteCache
    from hostplane.edge.offload import Offload
    from hostplane.edge.router import Router
    from hostplane.edge.routes import SandboxTarget
    from hostplane.resources.models import Sandbox
    from hostplane.settings import Settings
    from hostplane.urls import Platform

    settings = Settings(data_dir=data_dir, database_url=db_url)
    database = Database(settings.sqlalchemy_url)
    router = Router(database, Platform.from_settings(settings), cache=RouteCache(ttl=0),
                    offload=Offload())
    table = Sandbox.__table__
    with database.engine.connect() as conn:
        template = dict(conn.execute(select(table).where(table.c.id == template_id)).mappings().one())
    # Stopped rows: the worker and the edge leave them alone (nothing to reconcile, nothing to
    # connect to), and a lookup reads exactly what it reads for a running one.
    template |= {"state": "stopped", "destroyed_at": None}
    slugs: list[str] = []
    rows = []
    try:
        for size in sizes:
            t = time.perf_counter()
            with database.engine.begin() as conn:
                while len(slugs) < size:
                    batch = []
                    for i in range(len(slugs), min(size, len(slugs) + 20_000)):
                        batch.append(template | {"id": f"00000000-0000-0000-0000-{i:012d}",
                                                 "slug": f"rt{i:08d}", "name": f"route {i}"})
                    conn.execute(insert(table), batch)
                    slugs += [row["slug"] for row in batch]
            inserted = time.perf_counter() - t
            hosts = [f"3000-{slug}.sandbox.{settings.preview_domain}"
                     for slug in random.sample(slugs, min(lookups, len(slugs)))]
            while len(hosts) < lookups:
                hosts.append(random.choice(hosts))
            for host in hosts[:200]:  # warm: statement caches, connections, page cache
                router.lookup(host)
            samples = []
            for host in hosts:
                t0 = time.perf_counter()
                target = router.lookup(host)
                samples.append(time.perf_counter() - t0)
                assert isinstance(target, SandboxTarget), target
            samples.sort()
            row = {"size": size, "insert_s": inserted, "p50": pct(samples, 0.5),
                   "p99": pct(samples, 0.99), "n": len(samples)}
            rows.append(row)
            print(f"  {size:>9,} routes: lookup p50 {row['p50']:.3f} ms  p99 {row['p99']:.3f} ms"
                  f"  (n={len(samples)}; rows inserted in {inserted:.1f} s)", flush=True)
        rows[-1]["entry_bytes"] = cached_bytes(router, hosts[:2000])
        print(f"  a cached route holds {rows[-1]['entry_bytes']:.0f} bytes of Python objects "
              "(tracemalloc, RouteCache entries of 2000 lookups)", flush=True)
    finally:
        database.dispose()
    return rows, [f"3000-{slug}.sandbox.{settings.preview_domain}" for slug in slugs]


def cached_bytes(router, hosts: list[str]) -> float:
    """Bytes one route cache entry keeps alive (the target and its key), by tracemalloc."""
    import gc
    import tracemalloc

    from hostplane.edge.cache import RouteCache

    cache = RouteCache(ttl=3600)
    unique = list(dict.fromkeys(hosts))
    targets = [router.lookup(host) for host in unique[:10]]  # warm every cache on the way
    del targets
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for host in unique:
            key = ("host", (host + " ")[:-1])  # a fresh string, as a request makes one
            cache.put(key, router.lookup(host), generation=cache.generation)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / len(unique)
    finally:
        tracemalloc.stop()


def pct(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1e3


async def fill_cache(port: int, hosts: list[str], seconds: float) -> int:
    """One request per host to the edge on `port` (16 keep-alive connections); how many were
    answered before the time ran out."""
    todo = iter(hosts)
    answered = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for host in todo:
                if time.monotonic() > deadline:
                    return
                writer.write(b"GET / HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n\r\n"
                             % host.encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                answered += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(16)))
    return answered


# Servers beside the edge

def nginx_conf(prefix: Path, port: int, upstream: int, static_root: Path) -> Path:
    user = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    types {{ text/html html; }}
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream sandbox {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{ alias {static_root}/; }}
        location / {{
            proxy_pass http://sandbox;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
    return conf


def caddyfile(prefix: Path, port: int, upstream: int) -> Path:
    conf = prefix / "Caddyfile"
    conf.write_text(f"""{{
    admin off
    auto_https off
    storage file_system {prefix}/caddy-data
}}
http://:{port} {{
    bind 127.0.0.1
    reverse_proxy 127.0.0.1:{upstream}
}}
""")
    return conf


def versions(name: str) -> str:
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    caddy = subprocess.run(["caddy", "version"], capture_output=True, text=True).stdout.split()[0]
    return f"{name}; {nginx.split(': ')[-1]}; caddy {caddy}"


# One database

def run(db_url: str | None, args: argparse.Namespace, tmp: Path) -> dict:
    db = "postgresql" if db_url else "sqlite"
    print(f"\n=== {db} ===", flush=True)
    procs = Procs(tmp)
    data_dir = tmp / f"data-{db}"
    data_dir.mkdir()
    ports = {name: free_port() for name in ("api", "edge", "edge2", "edge1", "nginx", "caddy",
                                             "upstream")}
    env = hostplane_env(data_dir, db_url, ports["edge"])
    out = subprocess.run([cli(), "accounts", "create", "--name", "Edge Bench", "--json"], env=env,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    account = json.loads(out.strip().splitlines()[-1])
    result: dict = {"db": db}
    try:
        serve = procs.start("serve", [cli(), "serve", "--port", str(ports["api"]), "--log-level",
                                      "warning", "--no-access-log"], env)
        SERVE_PIDS.add(serve.pid)
        api = f"http://127.0.0.1:{ports['api']}"
        wait_http(serve, procs, api + "/healthz")
        with httpx.Client(base_url=api + "/api/v1", timeout=60,
                          headers={"Authorization": f"Bearer {account['api_key']}"}) as http:
            result |= scenario(http, procs, serve, ports, env, data_dir, account, args)
            template = result.pop("template")
            for sandbox_id in result.pop("sandboxes"):
                ok(http.delete(f"/sandboxes/{sandbox_id}"))
        procs.stop_all()
        if "lookups" not in args.skip:
            sizes = sorted(int(s) for s in args.routes.split(","))
            print(f"(b) route lookups (Router.lookup: the database, no cache), {args.lookups} "
                  "random existing preview hosts per size", flush=True)
            from hostplane.settings import Settings
            url = Settings(data_dir=data_dir, database_url=db_url).sqlalchemy_url
            result["lookups"], hosts = lookup_figures(url, data_dir, sizes, args.lookups,
                                                      template)
            result["rss"] = cache_rss(procs, env, ports["edge1"], hosts, args)
    except BaseException:
        for proc in procs.running:  # what the servers said, before their logs go with tmp
            print(f"--- {proc.name} (exit {proc.poll()}) ---\n{procs.log(proc)}", file=sys.stderr)
        raise
    finally:
        procs.stop_all()
        for pid in upstream_pids(data_dir):  # the sandbox's server, if its sandbox outlived us
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return result


def scenario(http: httpx.Client, procs: Procs, serve: subprocess.Popen, ports: dict[str, int],
             env: dict[str, str], data_dir: Path, account: dict, args: argparse.Namespace) -> dict:
    # The upstream: a sandbox running the server; a second one, serverless, for stop latency.
    sandbox = ok(http.post("/sandboxes", json={}), 201)
    other = ok(http.post("/sandboxes", json={}), 201)
    ok(http.post(f"/sandboxes/{sandbox['id']}/fs/write",
                 json={"path": "upstream.py", "content": UPSTREAM}))
    ok(http.post(f"/sandboxes/{sandbox['id']}/processes",
                 json={"command": f"exec {sys.executable} upstream.py {ports['upstream']}"}), 201)
    deadline = time.monotonic() + 30
    while ports["upstream"] not in [p["port"] for p in ok(http.get(
            f"/sandboxes/{sandbox['id']}/ports"))["ports"]]:
        if time.monotonic() > deadline:
            sys.exit("the sandbox's server did not listen within 30 s")
        time.sleep(0.1)
    upstream_pid = upstream_pids(data_dir)[0]
    preview = f"{ports['upstream']}-{sandbox['slug']}.sandbox.localhost"
    # A deployment with the 1 KiB page, and the same page on disk for nginx.
    dep = ok(http.post("/deployments", json={"name": "Edge bench site"}), 201)
    v1 = ok(http.post(f"/deployments/{dep['id']}/versions", params={"promote": "true"},
                      content=archive({"page.html": page("v1")}),
                      headers={"Content-Type": "application/gzip"}), 201)["version"]
    v2 = ok(http.post(f"/deployments/{dep['id']}/versions", params={"promote": "false"},
                      content=archive({"page.html": page("v2")}),
                      headers={"Content-Type": "application/gzip"}), 201)["version"]
    site = f"{dep['slug']}.{account['slug']}.localhost"
    static_root = Path(tempfile.mkdtemp(dir=procs.tmp, prefix="static-"))
    (static_root / "page.html").write_bytes(page("v1"))

    home = Path(tempfile.mkdtemp(dir=procs.tmp, prefix="caddy-"))
    prefix = Path(tempfile.mkdtemp(dir=procs.tmp, prefix="nginx-"))
    conf = nginx_conf(prefix, ports["nginx"], ports["upstream"], static_root)
    nginx = procs.start("nginx", ["nginx", "-c", str(conf), "-p", str(prefix)])
    caddy = procs.start("caddy", ["caddy", "run", "--config",
                                  str(caddyfile(home, ports["caddy"], ports["upstream"])),
                                  "--adapter", "caddyfile"],
                        dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
                             XDG_CONFIG_HOME=str(home / "config")))
    edge2 = procs.start("edge2", [cli(), "edge", "--port", str(ports["edge2"]), "--workers", "2",
                                  "--log-level", "warning"], env)
    for proc, port in ((nginx, ports["nginx"]), (caddy, ports["caddy"]), (edge2, ports["edge2"])):
        wait_http(proc, procs, f"http://127.0.0.1:{port}/")

    up, ng, cd = (f"http://127.0.0.1:{ports[k]}/" for k in ("upstream", "nginx", "caddy"))
    ed, ed2 = (f"http://127.0.0.1:{ports[k]}/" for k in ("edge", "edge2"))
    proxies = [("direct", "(1) direct to the upstream", up, None, upstream_pid),
               ("nginx", "(2) nginx proxy_pass, keepalive", ng, None, nginx.pid),
               ("caddy", "(3) Caddy reverse_proxy", cd, None, caddy.pid),
               ("edge", "(4) edge of hostplane serve", ed, preview, serve.pid),
               ("edge2", "(5) hostplane edge --workers 2", ed2, preview, edge2.pid)]
    r: dict = {"template": sandbox["id"], "sandboxes": [sandbox["id"], other["id"]]}
    print(f"1 KiB responses, {CONNECTIONS} connections (wrk -t2), {args.warmup} s warm-up + "
          f"{args.seconds} s each; CPU = the server's processes", flush=True)
    statics = [("nginx", "nginx from disk (sendfile)", ng + "static/page.html", None, nginx.pid),
               ("edge", "edge of hostplane serve", ed + "page.html", site, serve.pid),
               ("edge2", "hostplane edge --workers 2", ed2 + "page.html", site, edge2.pid)]
    # Rounds: every server measured back to back in each, so the machine's other work skews
    # them alike; the report takes medians over rounds (of req/s and of each round's ratios).
    r["rounds"], r["static_rounds"] = [], []
    for round_ in range(args.repeat):
        if args.repeat > 1:
            print(f"round {round_ + 1} of {args.repeat}, load average {loadavg()}", flush=True)
        r["rounds"].append({key: measure(label, url, host, pid, args)
                            for key, label, url, host, pid in proxies})
        if "static" not in args.skip:
            print("(a) a deployment's static 1 KiB file", flush=True)
            r["static_rounds"].append({key: measure(label, url, host, pid, args, body_check=b"v1")
                                       for key, label, url, host, pid in statics})
    r["load"], r["static"] = medians(r["rounds"]), medians(r["static_rounds"])
    if "single" not in args.skip:
        print(f"the same, 1 connection (latency without queueing), {args.seconds_single} s each",
              flush=True)
        r["single"] = {key: measure(label, url, host, pid, args, connections=1,
                                    seconds=args.seconds_single)
                       for key, label, url, host, pid in proxies}
    if "change" not in args.skip:
        r["change"] = change_figures(http, sandbox, other, dep, (v1, v2), site,
                                     {"serve": ed, "edge2": ed2}, args)
    return r


def medians(rounds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per server, the median of each figure over the rounds (nothing without rounds)."""
    if not rounds:
        return {}
    return {key: {figure: statistics.median(one[key][figure] for one in rounds)
                  for figure in rounds[0][key]} for key in rounds[0]}


def median_ratio(rounds: list[dict[str, dict[str, float]]], key: str, other: str) -> float:
    """The median over rounds of key's req/s over other's in the same round."""
    return statistics.median(one[key]["rps"] / one[other]["rps"] for one in rounds)


def change_figures(http: httpx.Client, sandbox: dict, other: dict, dep: dict,
                   versions_: tuple[dict, dict], site: str, edges: dict[str, str],
                   args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    print(f"(c) change→served: ms from the API's answer until the edge serves the change "
          f"({args.changes} times each)", flush=True)
    host = f"3000-{other['slug']}.sandbox.localhost"
    stops = []
    for _ in range(args.changes):
        # The edges first hold the running sandbox in their caches (nothing listens: 502).
        for url in edges.values():
            with edge_client(host) as client:
                poll(client, url, lambda resp: code_of(resp) == "PORT_NOT_LISTENING",
                     time.perf_counter() + 10)
        stops.append(change_latency(lambda: ok(http.post(f"/sandboxes/{other['id']}/stop")),
                                    edges, host, lambda resp: code_of(resp) == "SANDBOX_STOPPED"))
        ok(http.post(f"/sandboxes/{other['id']}/start"))
    promotes = []
    for i in range(args.changes):
        version = versions_[(i + 1) % 2]
        marker = f"<title>v{(i + 1) % 2 + 1}</title>".encode()
        promotes.append(change_latency(
            lambda version=version: ok(http.post(
                f"/deployments/{dep['id']}/versions/{version['id']}/promote")),
            {name: url + "page.html" for name, url in edges.items()}, site,
            lambda resp, marker=marker: marker in resp.content))
    for label, samples in (("sandbox stopped → 503 SANDBOX_STOPPED", stops),
                           ("version promoted → its file served", promotes)):
        for name in edges:
            values = sorted(s[name] for s in samples)
            print(f"  {label:<40} {name:<6} median {statistics.median(values):7.1f} ms  "
                  f"max {values[-1]:7.1f} ms", flush=True)
    return {"stop": stops, "promote": promotes}


def cache_rss(procs: Procs, env: dict[str, str], port: int, hosts: list[str],
              args: argparse.Namespace) -> dict[str, float]:
    wanted = min(args.cache_entries, len(hosts))
    print(f"(b) a standalone edge's RSS, empty and with {wanted:,} hosts in its route cache",
          flush=True)
    edge = procs.start("edge1", [cli(), "edge", "--port", str(port), "--workers", "1",
                                 "--log-level", "warning"], env)
    url = f"http://127.0.0.1:{port}/"
    wait_http(edge, procs, url, hosts[0])
    chosen = random.sample(hosts, wanted)
    warm = min(1000, wanted // 10)  # threads, statement caches and pools reach their size
    asyncio.run(fill_cache(port, chosen[:warm], args.fill_seconds))
    before = rss_kib(edge.pid)
    t = time.perf_counter()
    answered = warm + asyncio.run(fill_cache(port, chosen[warm:], args.fill_seconds))
    took = time.perf_counter() - t
    after = rss_kib(edge.pid)
    per_entry = (after - before) * 1024 / max(answered - warm, 1)
    print(f"  RSS {before / 1024:.1f} MiB with {warm:,} hosts cached, {after / 1024:.1f} MiB with "
          f"{answered:,} ({(answered - warm) / took:.0f} uncached lookups/s through the edge): "
          f"{per_entry:.0f} bytes per cached route", flush=True)
    procs.stop(edge)
    return {"before_kib": before, "after_kib": after, "entries": answered, "warm": warm,
            "per_entry": per_entry, "rate": (answered - warm) / took}


# Report

def report(r: dict, args: argparse.Namespace) -> None:
    load = r["load"]
    single = r.get("single") or {key: {"p50": float("nan")} for key in load}
    rounds = f", median of {len(r['rounds'])} rounds" if len(r["rounds"]) > 1 else ""
    print(f"\n--- {r['db']}: proxies (1 KiB, {CONNECTIONS} connections, {args.seconds} s"
          f"{rounds}) ---")
    head = f"{'':<34} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'+p50 ms':>8} {'+p50 1c':>8} " \
           f"{'CPU ms/req':>10}"
    print(head)
    for key, label in (("direct", "direct"), ("nginx", "nginx"), ("caddy", "Caddy"),
                       ("edge", "edge (hostplane serve)"),
                       ("edge2", "edge (hostplane edge --workers 2)")):
        x = load[key]
        added = x["p50"] - load["direct"]["p50"]
        added1 = single[key]["p50"] - single["direct"]["p50"]
        print(f"{label:<34} {x['rps']:8.0f} {x['p50']:7.2f} {x['p99']:7.2f} "
              f"{'' if key == 'direct' else f'{added:+.2f}':>8} "
              f"{'' if key == 'direct' else f'{added1:+.2f}':>8} {x['cpu_ms']:10.3f}")
    for key, name in (("edge", "serve"), ("edge2", "edge --workers 2")):
        for other, target in (("caddy", TARGETS["caddy"]), ("nginx", TARGETS["nginx"])):
            ratio = median_ratio(r["rounds"], key, other)
            print(f"  edge ({name}) / {other:<5} {ratio:5.2f}×  target ≥ {target}×: "
                  f"{'met' if ratio >= target else 'MISSED'}")
        added1 = single[key]["p50"] - single["direct"]["p50"]
        print(f"  edge ({name}) added p50, 1 connection {added1:+.2f} ms  "
              f"target ≤ {TARGETS['added_p50_ms']} ms: "
              f"{'met' if added1 <= TARGETS['added_p50_ms'] else 'MISSED'}")
    s = r["static"]
    if s:
        print(f"\n(a) static 1 KiB: nginx {s['nginx']['rps']:.0f} req/s, edge (serve) "
              f"{s['edge']['rps']:.0f} ({median_ratio(r['static_rounds'], 'edge', 'nginx'):.2f}×)"
              f", edge --workers 2 {s['edge2']['rps']:.0f} "
              f"({median_ratio(r['static_rounds'], 'edge2', 'nginx'):.2f}×)")
    if "lookups" in r:
        lookup_report(r)
    if "change" in r:
        change_report(r)


def lookup_report(r: dict) -> None:
    rows = r["lookups"]
    ratio = rows[-1]["p50"] / rows[0]["p50"]
    sizes = " / ".join(f"{x['size']:,}: {x['p50']:.3f} ms" for x in rows)
    print(f"(b) lookup p50 {sizes}; "
          f"{rows[-1]['size']:,}/{rows[0]['size']:,} = {ratio:.2f}×  target ≤ "
          f"{TARGETS['lookup_ratio']}×: {'met' if ratio <= TARGETS['lookup_ratio'] else 'MISSED'}")
    rss = r["rss"]
    print(f"    standalone edge RSS {rss['before_kib'] / 1024:.1f} MiB ({rss['warm']:,} cached) → "
          f"{rss['after_kib'] / 1024:.1f} MiB ({rss['entries']:,} cached): "
          f"{rss['per_entry']:.0f} bytes per route (no route table is held otherwise)")


def change_report(r: dict) -> None:
    for kind, label in (("stop", "stop → 503"), ("promote", "promote → served")):
        for name in ("serve", "edge2"):
            median = statistics.median(c[name] for c in r["change"][kind])
            target = f"  target ≤ {TARGETS['change_ms']} ms: " \
                f"{'met' if median <= TARGETS['change_ms'] else 'MISSED'}" if name == "serve" \
                else "  (another process: the cache's TTL bounds it on SQLite)"
            print(f"(c) {label:<17} {name:<6} median {median:7.1f} ms{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement")
    parser.add_argument("--quick", action="store_true", help="3 s measurements, fewer samples")
    parser.add_argument("--routes", default="1000,100000,1000000",
                        help="comma list of route-table sizes for (b)")
    parser.add_argument("--lookups", type=int, default=2000, help="timed lookups per size")
    parser.add_argument("--cache-entries", type=int, default=99_990,
                        help="hosts put in a standalone edge's route cache (its limit: 100,000)")
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="also run on a scratch database of this PostgreSQL server")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the 32-connection figures (and static), back to back")
    parser.add_argument("--skip", default="",
                        help="comma list of parts left out: single, static, change, lookups")
    args = parser.parse_args()
    args.skip = set(filter(None, args.skip.split(",")))
    if args.quick:
        args.seconds, args.lookups = 3, min(args.lookups, 500)
        args.cache_entries = min(args.cache_entries, 10_000)
    args.warmup = 1 if args.quick else 2
    args.seconds_single = 2 if args.quick else 3
    args.changes = 3 if args.quick else 5
    args.fill_seconds = 360
    for tool in ("wrk", "nginx", "caddy"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install {tool})")
    print(machine())
    print(f"servers: {versions('upstream: asyncio protocol on uvloop in a sandbox (isolation none)')}")
    print(f"command: python bench/edge.py {' '.join(sys.argv[1:])}".rstrip(), flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="hostplane_edge_bench_") as tmpdir:
        tmp = Path(tmpdir)
        results.append(run(None, args, tmp))
        if args.postgres:
            from hostplane.db.scratch import scratch_database

            with scratch_database(args.postgres, "hostplane_bench_edge") as url:
                results.append(run(url, args, tmp))
    print(f"\nload average at the end {loadavg()} (other work on this machine skews the figures)")
    for r in results:
        report(r, args)


if __name__ == "__main__":
    main()
