"""A sandbox as a place that stays up between commands (issue "Local compute driver" §1, §2, §4):
its own network (two sandboxes on port 5173, neither reaching the other), ports listed and
connected to from outside, pause, stop, start, a hostplane restart, and destroy leaving nothing.
Real bubblewrap, real processes, real sockets; skipped where bubblewrap cannot run."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane import errors
from hostplane.compute import _holder, _processes
from hostplane.compute.local import LocalDriver
from hostplane.compute.port import ExecResult, SandboxSpec

SERVE = ("python3 -c \"import http.server, socketserver, sys; "
         "socketserver.TCPServer.allow_reuse_address = True; "
         "http.server.HTTPServer(('{host}', 5173), http.server.SimpleHTTPRequestHandler)"
         ".serve_forever()\" >/dev/null 2>&1")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LocalDriver]:
    made = LocalDriver(tmp_path / "sandboxes", isolation="bubblewrap")
    if made.isolation_mode != "bubblewrap" or made.start_sandbox("probe").state == "error":
        pytest.skip("bubblewrap is not usable on this machine (CI installs it)")
    yield made
    for sandbox_id in made.sandbox_ids():
        made.destroy_sandbox(sandbox_id)


def _sandbox(driver: LocalDriver) -> str:
    sandbox_id = uuid.uuid4().hex
    assert driver.create_sandbox(SandboxSpec(id=sandbox_id, slug="s")).running
    return sandbox_id


def _exists(driver: LocalDriver, sandbox_id: str, path: str) -> bool:
    try:
        driver.stat(sandbox_id, path)
    except errors.NotFound:
        return False
    return True


def _serve(driver: LocalDriver, sandbox_id: str, page: str, host: str = "0.0.0.0") -> None:
    """A web server on 5173 inside the sandbox, left running in the background of the test."""
    driver.write_file(sandbox_id, "index.html", page.encode())
    thread = threading.Thread(
        target=driver.exec, args=(sandbox_id, SERVE.format(host=host)), kwargs={"timeout": 60},
        daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while 5173 not in driver.list_ports(sandbox_id):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)


def _get(driver: LocalDriver, sandbox_id: str, port: int = 5173) -> bytes:
    with driver.open_connection(sandbox_id, port) as sock:
        sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_two_sandboxes_serve_on_the_same_port_and_cannot_reach_each_other(driver):
    a, b, c = _sandbox(driver), _sandbox(driver), _sandbox(driver)
    _serve(driver, a, "page of a")
    _serve(driver, b, "page of b", host="127.0.0.1")
    assert driver.list_ports(a) == [5173] and driver.list_ports(b) == [5173]
    assert _get(driver, a).endswith(b"page of a") and _get(driver, b).endswith(b"page of b")
    # A third sandbox, on the same machine, finds nothing on its own 5173, and no way out.
    assert driver.list_ports(c) == []
    reach = ("python3 -c \"import socket, sys; s = socket.socket(); s.settimeout(2); "
             "sys.exit(s.connect_ex(('{host}', {port})))\"")
    assert driver.exec(c, reach.format(host="127.0.0.1", port=5173), timeout=10).exit_code != 0
    # Nor can it reach the host's PostgreSQL or any address of the host.
    assert driver.exec(c, reach.format(host="127.0.0.1", port=5432), timeout=10).exit_code != 0
    assert driver.exec(c, "cat /proc/net/dev", timeout=10).stdout.count(":") == 1  # lo only
    with pytest.raises(errors.Unavailable) as refused:
        driver.open_connection(c, 5173)
    assert refused.value.code == "PORT_NOT_LISTENING"


def test_state_stays_between_commands_and_the_machine_stays_safe(driver):
    sandbox_id = _sandbox(driver)
    assert driver.exec(sandbox_id, "echo kept > /tmp/note").exit_code == 0
    assert driver.exec(sandbox_id, "cat /tmp/note").stdout == "kept\n"
    # Each command drops every capability: the machine's settings are out of reach.
    result = driver.exec(sandbox_id, 'p=$(cat /proc/sys/kernel/core_pattern); '
                                     'echo "$p" > /proc/sys/kernel/core_pattern')
    assert result.exit_code != 0 and "Read-only" in result.stderr
    caps = driver.exec(sandbox_id, "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status").stdout
    assert caps.split() == ["CapPrm:", "0" * 16, "CapEff:", "0" * 16, "CapBnd:", "0" * 16]
    assert driver.exec(sandbox_id, "grep NoNewPrivs /proc/self/status").stdout.split()[1] == "1"
    # It sees its own processes only.
    other = _sandbox(driver)
    threading.Thread(target=driver.exec, args=(other, "sleep 30"), kwargs={"timeout": 30},
                     daemon=True).start()
    time.sleep(0.3)
    assert "sleep 30" not in driver.exec(sandbox_id, "ps ax").stdout


def test_the_sandbox_cannot_change_what_commands_enter_through(driver):
    """Commands enter with capabilities they drop only after their loader has run: the root
    (/lib64, /run/sandbox/id) is read-only, and the holder holds no host file open."""
    sandbox_id = _sandbox(driver)
    for attempt in ("mv /lib64 /tmp/x", "touch /lib64/x", "mv /run/sandbox /tmp/y",
                    "echo other > /run/sandbox/id", "mkdir /new"):
        result = driver.exec(sandbox_id, attempt)
        assert result.exit_code != 0 and "Read-only" in result.stderr, attempt
    assert driver.exec(sandbox_id, "cat /run/sandbox/id").stdout == sandbox_id + "\n"
    links = driver.exec(sandbox_id, "readlink /proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/2").stdout
    assert all(line.startswith(("pipe:", "/dev/null")) for line in links.split()), links
    kpage = driver.exec(sandbox_id, "head -c 8 /proc/kpageflags | wc -c").stdout.strip()
    assert kpage in ("0", "")


def test_a_sandbox_has_a_keyring_of_its_own(driver):
    sandbox_id = _sandbox(driver)
    add = ("python3 -c \"import ctypes; l = ctypes.CDLL(None, use_errno=True); "
           "print(l.syscall(248, b'user', b'hostplane-test-key', b'v', 1, -4))\"")
    assert int(driver.exec(sandbox_id, add).stdout) > 0
    libc = ctypes.CDLL(None, use_errno=True)
    found = libc.syscall(250, 10, -4, b"user", b"hostplane-test-key", 0)  # KEYCTL_SEARCH in @u
    assert found == -1 and ctypes.get_errno() == 126  # ENOKEY: not in the host root's keyring


def test_destroy_racing_commands_leaves_nothing(driver):
    for _ in range(10):
        sandbox_id = _sandbox(driver)
        results: list[object] = []

        def hammer(sid: str = sandbox_id, results: list[object] = results) -> None:
            for _ in range(5):
                try:
                    results.append(driver.exec(sid, "true"))
                except errors.Conflict as exc:
                    results.append(exc.code)

        thread = threading.Thread(target=hammer)
        thread.start()
        driver.destroy_sandbox(sandbox_id)
        thread.join()
        assert len(results) == 5  # each command ran, or was refused as not running
        assert not (driver.root / sandbox_id).exists()
        assert not any(g.exists() for g in driver.cgroups._groups(sandbox_id))
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert sandbox_id not in ps


def test_pause_freezes_and_resume_thaws(driver):
    sandbox_id = _sandbox(driver)
    if driver.cgroups._freezer(sandbox_id) is None:
        pytest.skip("no freezer cgroup here")
    driver.start_process(sandbox_id, "i=0; while true; do i=$((i+1)); echo $i > count; "
                                     "sleep 0.05; done")
    running_exec: list[ExecResult] = []
    waiting = threading.Thread(
        target=lambda: running_exec.append(driver.exec(sandbox_id, "touch started; sleep 30")),
        daemon=True)
    waiting.start()
    deadline = time.monotonic() + 10
    # Both running: the exec, and the counter (which may start later than it, on a busy machine).
    # Seen through the driver: a running sandbox's disk is mounted in its namespace only.
    while not (_exists(driver, sandbox_id, "started") and _exists(driver, sandbox_id, "count")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    driver.pause_sandbox(sandbox_id)
    waiting.join(timeout=10)
    assert driver.sandbox_status(sandbox_id).state == "paused"
    frozen = driver.read_file(sandbox_id, "count", max_bytes=100)
    time.sleep(0.5)
    assert driver.read_file(sandbox_id, "count", max_bytes=100) == frozen
    # A command running when the pause came has ended (frozen, it could not keep its timeout),
    # and no new one starts until the sandbox resumes.
    assert running_exec and running_exec[0].exit_code != 0
    with pytest.raises(errors.Conflict) as paused:
        driver.exec(sandbox_id, "true")
    assert paused.value.code == "SANDBOX_PAUSED"
    driver.resume_sandbox(sandbox_id)
    time.sleep(0.5)
    assert driver.read_file(sandbox_id, "count", max_bytes=100) != frozen
    assert driver.sandbox_status(sandbox_id).running


def test_stop_ends_processes_and_keeps_files_and_start_brings_it_back(driver):
    sandbox_id = _sandbox(driver)
    _serve(driver, sandbox_id, "still here")
    driver.stop_sandbox(sandbox_id)
    assert driver.sandbox_status(sandbox_id).state == "stopped"
    assert driver.cgroups.pids_in(sandbox_id) == []
    assert driver.read_file(sandbox_id, "index.html", max_bytes=100) == b"still here"
    assert driver.start_sandbox(sandbox_id).running
    assert driver.list_ports(sandbox_id) == []  # processes do not come back; files do
    _serve(driver, sandbox_id, "served again")
    assert _get(driver, sandbox_id).endswith(b"served again")


def test_a_restarted_hostplane_reattaches_and_a_crashed_sandbox_comes_back(driver):
    sandbox_id = _sandbox(driver)
    _serve(driver, sandbox_id, "survives")
    # Another hostplane process on this machine (or this one after a restart) finds it.
    again = LocalDriver(driver.root, isolation="bubblewrap")
    assert again.sandbox_status(sandbox_id).running
    assert _get(again, sandbox_id).endswith(b"survives")
    # Its holder gone (killed, out of memory): it is not running, no command brings it back
    # behind anyone's back, and start does, with the same files.
    holder = _holder.read(driver.root / sandbox_id)
    assert holder is not None
    os.kill(holder.pid, 9)
    deadline = time.monotonic() + 5
    while again.sandbox_status(sandbox_id).running:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with pytest.raises(errors.Conflict) as stopped:
        again.exec(sandbox_id, "true")
    assert stopped.value.code == "SANDBOX_NOT_RUNNING"
    assert again.sandbox_status(sandbox_id).state == "stopped"
    assert again.start_sandbox(sandbox_id).running
    assert again.exec(sandbox_id, "cat index.html").stdout == "survives"


def test_a_reused_pid_is_never_entered(driver, tmp_path):
    a, b = _sandbox(driver), _sandbox(driver)
    driver.write_file(b, "secret", b"of b")
    # a's record names a process that is alive but is not a's holder (here: b's).
    shutil.copy(driver.root / b / _holder.STATE_FILE, driver.root / a / _holder.STATE_FILE)
    entered = driver.exec(a, "cat /workspace/secret")
    assert entered.exit_code == 125 and entered.stdout == ""
    # A record of a pid whose start time differs is not the holder at all.
    state = driver.root / a / _holder.STATE_FILE
    record = json.loads(state.read_text())
    state.write_text(json.dumps({**record, "started": record["started"] + 1}))
    assert _holder.read(driver.root / a) is None


def test_destroy_leaves_no_process_mount_or_file(driver):
    sandbox_id = _sandbox(driver)
    _serve(driver, sandbox_id, "gone soon")
    holder = _holder.read(driver.root / sandbox_id)
    assert holder is not None
    driver.destroy_sandbox(sandbox_id)
    assert not (driver.root / sandbox_id).exists()
    assert not holder.alive() and driver.cgroups.pids_in(sandbox_id) == []
    mounts = Path("/proc/self/mountinfo").read_text()
    assert sandbox_id not in mounts
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert sandbox_id not in ps
    with pytest.raises(errors.Conflict):
        driver.exec(sandbox_id, "true")


def test_background_processes_leave_nothing_of_their_own(driver, monkeypatch):
    sandbox_id = _sandbox(driver)
    quick = driver.start_process(sandbox_id, "true", timeout=3333)
    deadline = time.monotonic() + 10
    while driver.get_process(sandbox_id, quick.id).state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    sleepers = [pid for pid in driver.cgroups.pids_in(sandbox_id)
                if b"3333" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert sleepers == []  # the timeout's sleeper ended with the command
    slow = driver.start_process(sandbox_id, "echo hi; sleep 60")
    time.sleep(0.3)
    assert driver.stop_process(sandbox_id, slow.id).state == "stopped"
    assert driver.read_output(sandbox_id, slow.id).data == b"hi\n"  # no "Killed" of the shell
    # Starts racing for the last places: never more than the cap, never an error but the cap's.
    monkeypatch.setattr(_processes, "MAX_PROCESSES", 6)
    for _ in range(3):
        driver.start_process(sandbox_id, "sleep 60")
    outcomes: list[str] = []

    def start() -> None:
        try:
            driver.start_process(sandbox_id, "sleep 60")
            outcomes.append("started")
        except errors.Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes) <= {"started", "TOO_MANY_PROCESSES"}
    running = [p for p in driver.list_processes(sandbox_id) if p.state == "running"]
    assert len(driver.list_processes(sandbox_id)) <= 6 and len(running) <= 6
    assert outcomes.count("started") == 6 - 3


def test_a_stream_refuses_before_it_starts_and_ticks_while_quiet(driver):
    sandbox_id = _sandbox(driver)
    pieces = driver.exec_stream(sandbox_id, "sleep 0.7; echo done")
    kinds = [kind for kind, _ in pieces]
    assert kinds[0] == "started" and kinds.count("tick") >= 2 and "stdout" in kinds
    if driver.cgroups._freezer(sandbox_id) is None:
        return
    driver.pause_sandbox(sandbox_id)
    refused = driver.exec_stream(sandbox_id, "true")
    with pytest.raises(errors.Conflict) as paused:
        next(refused)
    assert paused.value.code == "SANDBOX_PAUSED"
    driver.resume_sandbox(sandbox_id)


def test_without_isolation_a_preview_reaches_only_the_sandboxs_own_socket(tmp_path):
    """Isolation none shares the host's network: a preview must still reach only the socket the
    sandbox's own process listens on, at its very address, never a host service on the same
    port (the API, PostgreSQL) or one on a port the sandbox does not listen on."""
    import socket

    plain = LocalDriver(tmp_path / "plain", isolation="none")
    sandbox_id = uuid.uuid4().hex
    assert plain.create_sandbox(SandboxSpec(id=sandbox_id, slug="s")).running
    host_service = socket.socket()
    host_service.bind(("127.0.0.1", 0))
    host_service.listen()
    port = host_service.getsockname()[1]
    try:
        with pytest.raises(errors.Unavailable):  # the sandbox listens on nothing
            plain.open_connection(sandbox_id, port)
        script = ("import socket; s = socket.socket(); s.bind(('127.0.0.2', %d)); s.listen(); "
                  "c, _ = s.accept(); c.sendall(b'sandbox'); c.close()" % port)
        thread = threading.Thread(target=plain.exec, args=(sandbox_id, f'python3 -c "{script}"'),
                                  kwargs={"timeout": 30}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while port not in plain.list_ports(sandbox_id):
            assert time.monotonic() < deadline, "the sandbox's server did not start"
            time.sleep(0.05)
        with plain.open_connection(sandbox_id, port) as sock:
            assert sock.getpeername()[0] == "127.0.0.2"
            assert sock.recv(100) == b"sandbox"
        thread.join(timeout=10)
    finally:
        host_service.close()
        plain.destroy_sandbox(sandbox_id)
