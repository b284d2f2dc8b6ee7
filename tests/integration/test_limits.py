"""Resource limits from the size tier (issue "Local compute driver" §1): a memory hog is killed,
a fork bomb runs out of processes, CPU is capped, and destroying a sandbox leaves no cgroup or
process behind. Real cgroups (v2, or v1 as on these machines); skipped where none is writable."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from hostplane.compute._limits import Cgroups
from hostplane.compute.local import LocalDriver
from hostplane.compute.port import SandboxSpec

pytestmark = pytest.mark.skipif(not Cgroups().available,
                                reason="no writable cgroup hierarchy here (needs root)")


@pytest.fixture
def small(tmp_path: Path, settings):
    driver = LocalDriver(tmp_path, isolation=settings.sandbox_isolation)
    sandbox_id = uuid.uuid4().hex
    driver.create_sandbox(SandboxSpec(id=sandbox_id, slug="s", memory_mb=128, cpu_count=1))
    yield driver, sandbox_id
    driver.destroy_sandbox(sandbox_id)


def test_a_memory_hog_is_killed(small):
    driver, sandbox_id = small
    hog = driver.exec(sandbox_id, "python3 -c 'a = bytearray(512 * 1024 * 1024); print(1)'",
                      timeout=60)
    assert hog.exit_code != 0 and hog.stdout == ""
    fits = driver.exec(sandbox_id, "python3 -c 'a = bytearray(32 * 1024 * 1024); print(1)'",
                       timeout=60)
    assert fits.exit_code == 0 and fits.stdout.strip() == "1"


def test_a_fork_bomb_runs_out_of_processes(small):
    driver, sandbox_id = small
    started = time.monotonic()
    bomb = driver.exec(sandbox_id, "i=0; while [ $i -lt 2000 ]; do sleep 30 & i=$((i+1)); done; "
                                   "echo all started", timeout=60)
    assert bomb.exit_code != 0 and "all started" not in bomb.stdout
    assert "fork" in bomb.stderr.lower()
    assert time.monotonic() - started < 30
    # The machine is fine, and the sandbox itself runs commands again.
    assert driver.exec(sandbox_id, "echo ok", timeout=30).stdout.strip() == "ok"


def test_cpu_is_capped_to_the_tier(small):
    driver, sandbox_id = small
    # Two busy processes for one second of wall time: with one CPU they get about one second.
    burn = ("python3 - <<'EOF'\n"
            "import os, time\n"
            "for _ in range(2):\n"
            "    if os.fork() == 0:\n"
            "        end = time.time() + 1.0\n"
            "        while time.time() < end: pass\n"
            "        os._exit(0)\n"
            "for _ in range(2): os.wait()\n"
            "t = os.times(); print(t.children_user + t.children_system)\n"
            "EOF")
    used = float(driver.exec(sandbox_id, burn, timeout=60).stdout.strip())
    assert used < 1.5  # uncapped, two cores would give about 2.0


def test_destroy_leaves_no_cgroup_and_no_process(small):
    driver, sandbox_id = small
    driver.exec(sandbox_id, "sleep 60 & sleep 60 & echo started", timeout=10)
    driver.destroy_sandbox(sandbox_id)
    assert driver.cgroups.pids_in(sandbox_id) == []
    assert not any(g.exists() for g in driver.cgroups._groups(sandbox_id))
