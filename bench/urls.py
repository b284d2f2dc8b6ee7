"""URL engine speed, and POST /sandboxes with auto-resolved ownership against the bare ceiling.

Prints:
  (1) URLs computed per second by the pure engine (hostplane.urls), per URL layer: a sandbox preview,
      a deployment's layers with and without a verified organization domain, a computer desktop;
  (2) requests/s of authenticated POST /api/v1/sandboxes whose body names the workspace and project
      by slug and external ids (the spec's example body; the first request creates them, every
      later one resolves them), as a ratio of the bare FastAPI ceiling (target >= 0.3).
Servers and load generation are bench/api_throughput.py's (one uvicorn process, wrk when present).

    python bench/urls.py [--seconds 10] [--connections 32] [--only sqlite|postgresql] [--engine-only]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from api_throughput import (
    free_port,
    hostplane_server,
    loadavg,
    machine,
    measure,
    scratch_postgres,
    server,
    uvicorn_cmd,
)

from hostplane.urls import (
    OrganizationDomains,
    Platform,
    computer_urls,
    deployment_urls,
    sandbox_preview_url,
)

TARGET = 0.3
SPEC = Platform("miosa.app", "miosa.ai", "computer.miosa.ai", "https", "")
PLAIN = OrganizationDomains("cliniciq")
BRANDED = OrganizationDomains("cliniciq", "cliniciq.dev", True, "apps.cliniciq.com", True)
SANDBOX_BODY = json.dumps({
    "template_id": "miosa-sandbox", "workspace_slug": "dr-smith-clinic",
    "workspace_name": "Dr. Smith Clinic", "project_slug": "summer-lead-magnet",
    "project_name": "Summer Lead Magnet", "external_workspace_id": "clinic_123",
    "external_project_id": "project_789", "external_user_id": "user-{n}", "name": "sbx {n}",
})


def engine_rates(seconds: float) -> dict[str, float]:
    cases = {
        "sandbox preview (platform domain)": lambda: sandbox_preview_url(SPEC, PLAIN, "sbx01j9x", 5173),
        "sandbox preview (verified org domain)":
            lambda: sandbox_preview_url(SPEC, BRANDED, "sbx01j9x", 5173),
        "deployment layers (fallback wins)": lambda: deployment_urls(SPEC, PLAIN, "lead-magnet"),
        "deployment layers (custom wins)": lambda: deployment_urls(
            SPEC, BRANDED, "lead-magnet", ("program.drsmithclinic.com",)),
        "computer desktop": lambda: computer_urls(SPEC, PLAIN, "cmp01j9x"),
    }
    rates = {}
    for label, fn in cases.items():
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(1000):
                fn()
            n += 1000
        rates[label] = n / elapsed
        print(f"  {label:<40} {rates[label]:>12,.0f} URLs/s  ({1e6 / rates[label]:.2f} µs each)",
              flush=True)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each measurement")
    parser.add_argument("--warmup", type=float, default=2, help="discarded warm-up before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--engine-only", action="store_true", help="skip the HTTP measurement")
    args = parser.parse_args()
    args.seconds, args.warmup = int(args.seconds), max(1, int(args.warmup))
    print(machine())
    print("\n(1) URL engine, one thread")
    engine_rates(min(args.seconds, 3))
    if args.engine_only:
        return
    print(f"\n(2) POST /api/v1/sandboxes with auto-resolve, {args.connections} connections")
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="hostplane_bench_") as tmpdir:
        tmp = Path(tmpdir)
        with server(uvicorn_cmd("bare_app:app", free_port()), dict(os.environ),
                    tmp / "bare.log") as (base, pid):
            bare = measure("(a) bare FastAPI GET /healthz", base + "/healthz", "GET", "-", pid, args)
        databases: list[tuple[str, str | None]] = []
        if args.only in (None, "sqlite"):
            databases.append(("sqlite", None))
        with scratch_postgres() as pg_url:
            if args.only in (None, "postgresql") and pg_url is not None:
                databases.append(("postgresql", pg_url))
            for db, url in databases:
                with hostplane_server(url, tmp) as (base, pid, key):
                    rows[db] = measure(f"{db} POST /api/v1/sandboxes", base + "/api/v1/sandboxes",
                                       "POST", key, pid, args, body=SANDBOX_BODY)
    print(f"\nload average at the end {loadavg()}")
    print(f"{'database':<11} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} "
          f"{'CPU ms/req':>10} {'ratio':>6} target")
    print(f"{'(a) bare':<11} {bare['rps']:7.0f} {bare['p50_us'] / 1e3:7.1f} "
          f"{bare['p99_us'] / 1e3:7.1f} {bare['non2xx']:7.0f} {bare['cpu_ms']:10.2f}")
    for db, r in rows.items():
        ratio = r["rps"] / bare["rps"]
        print(f"{db:<11} {r['rps']:7.0f} {r['p50_us'] / 1e3:7.1f} {r['p99_us'] / 1e3:7.1f} "
              f"{r['non2xx']:7.0f} {r['cpu_ms']:10.2f} {ratio:6.2f} >= {TARGET}  "
              f"{'meets' if ratio >= TARGET else 'BELOW target'}")


if __name__ == "__main__":
    main()
