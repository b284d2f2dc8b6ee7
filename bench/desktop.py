"""Desktop figures (issue 16), through the HTTP API of a real hostplane server: computer create →
desktop takes input (p50), the screenshot round trip at 1920x1080 (p50), an input action's round
trip (p50; a click), and the memory each idle desktop holds. Targets: create→input ≤ 2 s,
screenshot ≤ 150 ms, input ≤ 30 ms.

    python bench/desktop.py [--computers 5] [--shots 40] [--inputs 100]
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
from runtime import line  # noqa: E402

from hostplane.compute._limits import Cgroups  # noqa: E402
from hostplane.compute.local import LocalDriver  # noqa: E402
from hostplane.compute.port import SandboxSpec  # noqa: E402


def wait_for_input(http: httpx.Client, computer_id: str) -> None:
    """Until the computer says running and its desktop answers a pointer move."""
    while True:
        state = http.get(f"/api/v1/computers/{computer_id}").json()["status"]
        if state == "running" and http.post(f"/api/v1/computers/{computer_id}/desktop/move",
                                            json={"x": 1, "y": 1}).status_code == 200:
            return
        if state == "error":
            sys.exit(f"computer {computer_id} failed to start")
        time.sleep(0.05)  # a client polling as the official one does, only faster


def memory(ids: list[str]) -> str:
    """Proportional set size of every process of each desktop's cgroup (Xvfb, openbox, two
    x11vnc, the agent, the sandbox's holder)."""
    cgroups = Cgroups()
    total = processes = 0
    for computer_id in ids:
        for pid in cgroups.pids_in(computer_id):
            processes += 1
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            total += next(int(x.split()[1]) for x in rollup.splitlines()
                          if x.startswith("Pss:")) * 1024
    return (f"{len(ids)} idle desktops: {processes / len(ids):.1f} processes, "
            f"{total / len(ids) / 2**20:.0f} MiB of memory (PSS) each")


def driver_figures(args: argparse.Namespace, root: Path) -> None:
    """The same at the local driver itself (no HTTP, no database): what the desktop costs."""
    driver = LocalDriver(root / "driver")
    ready, ids = [], []
    for _ in range(args.computers):
        computer_id = uuid.uuid4().hex
        started = time.perf_counter()
        assert driver.create_sandbox(SandboxSpec(id=computer_id, slug="b")).running
        driver.start_desktop(computer_id, 1920, 1080)
        while not driver.desktop_ready(computer_id):
            time.sleep(0.01)
        ready.append(time.perf_counter() - started)
        ids.append(computer_id)
    print(line("driver create → takes input", ready, 2000))
    shots, fresh, inputs = [], [], []
    for i in range(args.shots):
        started = time.perf_counter()
        driver.desktop_png(ids[i % len(ids)])
        shots.append(time.perf_counter() - started)
        driver.desktop_pointer(ids[i % len(ids)], [("move", 10 + i, 10)])
        started = time.perf_counter()
        driver.desktop_png(ids[i % len(ids)])  # the screen changed (the pointer moved)
        fresh.append(time.perf_counter() - started)
    print(line("driver screenshot, unchanged", shots, 150))
    print(line("driver screenshot, changed", fresh, 150))
    for i in range(args.inputs):
        started = time.perf_counter()
        driver.desktop_pointer(ids[i % len(ids)], [("move", 100 + i, 100), ("down", 1), ("up", 1)])
        inputs.append(time.perf_counter() - started)
    print(line("driver input (click)", inputs, 30))
    for computer_id in ids:
        driver.destroy_sandbox(computer_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--computers", type=int, default=5)
    parser.add_argument("--shots", type=int, default=40)
    parser.add_argument("--inputs", type=int, default=100)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hp-desktop-"))
    try:
        driver_figures(args, root)
        with hostplane_server(None, root) as (base, _pid, key), \
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                             timeout=60) as http:
            ready, ids = [], []
            for _ in range(args.computers):
                started = time.perf_counter()
                resp = http.post("/api/v1/computers", json={"name": "bench"})
                assert resp.status_code == 201, resp.text
                ids.append(resp.json()["id"])
                wait_for_input(http, ids[-1])
                ready.append(time.perf_counter() - started)
            print(line("create → desktop takes input", ready, 2000))
            shots = []
            for i in range(args.shots):
                started = time.perf_counter()
                resp = http.get(f"/api/v1/computers/{ids[i % len(ids)]}/desktop/screenshot")
                shots.append(time.perf_counter() - started)
                assert resp.status_code == 200 and resp.content[:4] == b"\x89PNG"
            print(line("screenshot 1920x1080 (PNG)", shots, 150))
            inputs = []
            for i in range(args.inputs):
                started = time.perf_counter()
                resp = http.post(f"/api/v1/computers/{ids[i % len(ids)]}/desktop/click",
                                 json={"x": 100 + i % 500, "y": 100 + i % 300})
                inputs.append(time.perf_counter() - started)
                assert resp.status_code == 200, resp.text
            print(line("input action (click)", inputs, 30))
            baseline = []
            for i in range(args.inputs):
                started = time.perf_counter()
                resp = http.get(f"/api/v1/computers/{ids[i % len(ids)]}")
                baseline.append(time.perf_counter() - started)
            print(line("baseline: GET /computers/{id}", baseline))
            time.sleep(2)  # idle
            print(memory(ids))
            for computer_id in ids:  # desktops outlive the server: end them with the benchmark
                assert http.delete(f"/api/v1/computers/{computer_id}").status_code == 200
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
