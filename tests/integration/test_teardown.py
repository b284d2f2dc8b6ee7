"""`hostplane down`: sandboxes outlive `hostplane serve` on purpose; `down` stops them all, and
`down --orphans` ends those whose data dir was deleted. Real server, real sandboxes, real
processes, each found afterwards by a marker in its command line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _marked(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if marker.encode() in Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _gone(marker: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while _marked(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Machine:
    """A data dir, a `hostplane serve` on it, and the CLI pointed at both."""

    def __init__(self, tmp_path: Path, isolation: str) -> None:
        self.data = tmp_path / "data"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HOSTPLANE_", "MIOSA_"))}
        port = _free_port()
        self.env.update(HOSTPLANE_DATA_DIR=str(self.data), HOSTPLANE_SANDBOX_ISOLATION=isolation,
                        HOSTPLANE_EDGE_PORT=str(_free_port()), HOSTPLANE_PUBLIC_PORT="",
                        HOSTPLANE_API_URL=f"http://127.0.0.1:{port}", COLUMNS="200")
        self.marker = f"marker-{uuid.uuid4().hex}"
        self.port = port
        self.server: subprocess.Popen[str] | None = None

    def cli(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "hostplane.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    def serve(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, "-m", "hostplane.cli", "serve", "--port", str(self.port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.server.poll() is None, "no server"
            time.sleep(0.1)

    def stop_serving(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGINT)  # Ctrl-C, as an operator stops it
        self.server.wait(timeout=30)

    def sandbox_with_processes(self) -> str:
        """A sandbox running a background process and a daemon that left for / in a session of
        its own (found neither by working directory nor as anyone's child)."""
        account = json.loads(self.cli("accounts", "create", "--name",
                                      f"Down {uuid.uuid4().hex[:8]}", "--json").stdout)
        self.env["HOSTPLANE_API_KEY"] = account["api_key"]
        self.serve()
        sandbox = json.loads(self.cli("sandboxes", "create", "--json").stdout)
        assert sandbox["state"] == "running", sandbox
        sleeper = f"import time; time.sleep(600)  # {self.marker}"
        self.cli("sandboxes", "spawn", sandbox["id"], "--", "python3", "-c", sleeper)
        self.cli("sandboxes", "exec", sandbox["id"], "--",
                 f"(cd / && setsid python3 -c '{sleeper}' >/dev/null 2>&1 &)")
        deadline = time.monotonic() + 10
        while len(_marked(self.marker)) < 2:
            assert time.monotonic() < deadline, "the sandbox's processes did not start"
            time.sleep(0.05)
        return str(sandbox["id"])


@pytest.fixture(params=["none", "bubblewrap"])
def machine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Machine]:
    if request.param == "bubblewrap":
        from hostplane.compute.local import LocalDriver

        if LocalDriver(tmp_path / "probe", isolation="bubblewrap") \
                .sandbox_status("probe").state == "error":
            pytest.skip("bubblewrap does not work on this machine")
    made = Machine(tmp_path, request.param)
    yield made
    if made.server is not None and made.server.poll() is None:
        made.server.kill()
        made.server.wait()
    for pid in _marked(made.marker):  # only ours, if the test failed half-way
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("machine", ["none"], indirect=True)  # bubblewrap: the orphans test
def test_down_stops_every_sandbox_of_the_data_dir(machine: Machine):
    sandbox_id = machine.sandbox_with_processes()
    machine.stop_serving()
    assert len(_marked(machine.marker)) >= 2  # by design: sandboxes outlive the server
    done = json.loads(machine.cli("down", "--json").stdout)
    assert done["stopped"] == [sandbox_id] and done["still_running"] == []
    assert _gone(machine.marker)
    # The record says so: a server started again shows it stopped, and why.
    machine.serve()
    shown = json.loads(machine.cli("sandboxes", "list", "--json").stdout)
    assert [(s["id"], s["state"]) for s in shown] == [(sandbox_id, "stopped")]
    machine.stop_serving()
    again = machine.cli("down")
    assert "nothing to stop" in again.stdout or "ended" in again.stdout
    shutil.rmtree(machine.data)  # nothing of it is mounted any more: it can be deleted


def test_down_orphans_ends_sandboxes_of_a_deleted_data_dir(machine: Machine, tmp_path: Path):
    sandbox_id = machine.sandbox_with_processes()
    machine.stop_serving()
    # What an operator does to start afresh. A running sandbox's disk is mounted, so its mount
    # point is all that stays behind (rm -rf says "Device or resource busy").
    shutil.rmtree(machine.data, ignore_errors=True)
    assert len(_marked(machine.marker)) >= 2
    listed = json.loads(machine.cli("down", "--orphans", "--under", str(tmp_path), "--dry-run",
                                    "--json").stdout)
    [orphan] = listed["processes"]
    assert orphan["sandbox_id"] == sandbox_id and orphan["orphaned"] is True
    assert orphan["data_dir"] == str(machine.data)
    assert set(_marked(machine.marker)) <= set(orphan["pids"])
    assert len(_marked(machine.marker)) >= 2  # a dry run ends nothing
    assert "USAGE_ERROR" in machine.cli("down", "--under", str(tmp_path), code=2).stderr
    people = machine.cli("down", "--orphans", "--under", str(tmp_path))
    assert f"ended sandbox {sandbox_id} of {machine.data} (deleted)" in people.stdout
    assert _gone(machine.marker)
    assert "nothing to stop" in machine.cli("down", "--orphans", "--under",
                                            str(tmp_path)).stdout
    shutil.rmtree(machine.data, ignore_errors=True)
    assert not machine.data.exists()  # its disks were detached: now it goes to the end
