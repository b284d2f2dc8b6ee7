"""Local compute driver figures (issue "Local compute driver"): sandbox create→running latency
(p50/p99), the round trip of exec `true` (p50/p99), both through the HTTP API of a real server and
at the driver itself, and the memory each of 100 idle, running sandboxes holds. Targets: create p50 ≤ 50 ms, exec
p50 ≤ 15 ms.

    python bench/runtime.py [--sandboxes 100] [--execs 200]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_throughput import hostplane_server  # noqa: E402

from hostplane.compute.local import LocalDriver  # noqa: E402
from hostplane.compute.port import SandboxSpec  # noqa: E402


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def line(label: str, samples: list[float], target: float | None = None) -> str:
    p50 = pct(samples, 0.5)
    verdict = "" if target is None else f"  (target p50 ≤ {target:.0f} ms: " \
        f"{'met' if p50 <= target else 'missed'})"
    return f"{label:<34} p50 {p50:7.1f} ms   p99 {pct(samples, 0.99):7.1f} ms   " \
           f"n={len(samples)}{verdict}"


def driver_figures(args: argparse.Namespace, root: Path) -> None:
    driver = LocalDriver(root / "sandboxes")
    print(f"driver: isolation {driver.isolation_mode}, cgroups "
          f"{'v' + str(driver.cgroups.version) if driver.cgroups.available else 'none'}")
    created, ids = [], []
    for _ in range(args.sandboxes):
        sandbox_id = uuid.uuid4().hex
        t = time.perf_counter()
        assert driver.create_sandbox(SandboxSpec(id=sandbox_id, slug="b")).running
        created.append(time.perf_counter() - t)
        ids.append(sandbox_id)
    print(line("driver create→running", created, 50))
    execs = []
    for i in range(args.execs):
        t = time.perf_counter()
        assert driver.exec(ids[i % len(ids)], "true").exit_code == 0
        execs.append(time.perf_counter() - t)
    print(line("driver exec `true`", execs, 15))
    idle_footprint(driver, ids, root)
    destroyed = []
    for sandbox_id in ids:
        t = time.perf_counter()
        driver.destroy_sandbox(sandbox_id)
        destroyed.append(time.perf_counter() - t)
    print(line("driver destroy", destroyed))


def idle_footprint(driver: LocalDriver, ids: list[str], root: Path) -> None:
    """Memory the idle sandboxes hold: the proportional set size (shared pages split between
    their users) of every process in their cgroups, which is the holder and nothing else."""
    pss = processes = 0
    for sandbox_id in ids:
        for pid in driver.cgroups.pids_in(sandbox_id):
            processes += 1
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            pss += next(int(line.split()[1]) for line in rollup.splitlines()
                        if line.startswith("Pss:")) * 1024
    # Blocks, not sizes: a sandbox's disk image is sparse (its size is disk_mb, its use is not).
    used = sum(f.stat().st_blocks * 512 for f in (root / "sandboxes").rglob("*") if f.is_file())
    print(f"{len(ids)} idle sandboxes running: {processes / len(ids):.1f} processes, "
          f"{pss / len(ids) / 1024:.0f} KiB of memory (PSS) and {used / len(ids) / 1024:.0f} KiB "
          "of host disk each")


def api_figures(args: argparse.Namespace, root: Path) -> None:
    with hostplane_server(None, root) as (base, _pid, key), \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                         timeout=60) as http:
        warm = http.post("/api/v1/sandboxes", json={})  # the default workspace and project exist
        created, ids = [], [warm.json()["data"]["id"]]
        for _ in range(args.sandboxes):
            t = time.perf_counter()
            resp = http.post("/api/v1/sandboxes", json={})
            created.append(time.perf_counter() - t)
            assert resp.status_code == 201 and resp.json()["data"]["state"] == "running"
            ids.append(resp.json()["data"]["id"])
        print(line("API POST /sandboxes (running)", created, 50))
        execs = []
        for i in range(args.execs):
            t = time.perf_counter()
            resp = http.post(f"/api/v1/sandboxes/{ids[1 + i % (len(ids) - 1)]}/exec",
                             json={"command": "true"})
            execs.append(time.perf_counter() - t)
            assert resp.status_code == 200 and resp.json()["data"]["exit_code"] == 0
        print(line("API exec `true`", execs, 15))
        for sandbox_id in ids:  # sandboxes outlive the server: end them with the benchmark
            assert http.delete(f"/api/v1/sandboxes/{sandbox_id}").status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sandboxes", type=int, default=100)
    parser.add_argument("--execs", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hp-runtime-"))
    try:
        driver_figures(args, root)
        api_figures(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
