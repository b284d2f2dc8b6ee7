"""A sandbox through the API after it is created (issue "Local compute driver" §2–§4): a web server
on 5173 as a background process, its port listed with its preview URL, a second sandbox on the
same port unable to reach the first, logs, exec/stream, stop/start/pause/resume, timeouts and
reconciliation after a restart. Real processes over real HTTP."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from hostplane import errors
from hostplane.compute import _holder
from hostplane.compute.port import SandboxSpec
from hostplane.resources import sandbox_lifecycle
from hostplane.worker.runner import JOBS

BASE = "/api/v1/sandboxes"
SERVER = ("python3 -c \"import http.server as h; "
          "h.HTTPServer(('0.0.0.0', 5173), h.SimpleHTTPRequestHandler).serve_forever()\"")


def create(org, **body):
    resp = org.post(BASE, body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def ok(resp, status=200):
    assert resp.status_code == status, resp.text
    return resp.json()["data"]


def error_of(resp, status, code):
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code, resp.text
    return resp.json()["error"]


def wait_for(check, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
    return found


def events(resp):
    """(event, data) pairs of a server-sent event stream."""
    found, kind = [], None
    for line in resp.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            found.append((kind, json.loads(line[6:])))
    return found


def serve(org, sandbox, page):
    org.post(f"{BASE}/{sandbox['id']}/fs/write", {"path": "index.html", "content": page})
    proc = ok(org.post(f"{BASE}/{sandbox['id']}/processes", {"command": SERVER}), 201)
    wait_for(lambda: ok(org.get(f"{BASE}/{sandbox['id']}/ports"))["ports"])
    return proc


def test_two_sandboxes_serve_5173_and_neither_reaches_the_other(org, container):
    a, b = create(org), create(org)
    serve(org, a, "served by a")
    ports = ok(org.get(f"{BASE}/{a['id']}/ports"))
    assert ports == {"sandbox_id": a["id"], "ports": [
        {"port": 5173, "protocol": "tcp", "url": f"https://5173-{a['slug']}.sandbox.miosa.ai"}]}
    probe = ("python3 -c \"import socket, sys; s = socket.socket(); s.settimeout(2); "
             "sys.exit(s.connect_ex(('127.0.0.1', 5173)))\"")
    reached = ok(org.post(f"{BASE}/{b['id']}/exec", {"command": probe}))
    assert reached["exit_code"] != 0  # b has nothing on 5173, and a's is out of its reach
    serve(org, b, "served by b")
    for sandbox, page in ((a, b"served by a"), (b, b"served by b")):
        with container.driver.open_connection(sandbox["id"], 5173) as sock:
            sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            assert wait_for(lambda s=sock: s.recv(65536)).startswith(b"HTTP/1.0 200")
        with container.driver.open_connection(sandbox["id"], 5173) as sock:
            sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            assert answer.endswith(page)


def test_a_background_process_runs_logs_and_stops(org):
    sbx = create(org, env={"GREETING": "hello"})
    path = f"{BASE}/{sbx['id']}/processes"
    proc = ok(org.post(path, {"command": "echo $GREETING; echo oops >&2; sleep 60"}), 201)
    assert proc["state"] == "running" and proc["running"] and proc["exit_code"] is None
    assert proc["id"].startswith("proc_") and proc["cwd"] == "/workspace"
    logs = wait_for(lambda: (got := ok(org.get(f"{path}/{proc['id']}/logs")))["output"]
                    .count("\n") == 2 and got)
    assert logs["output"] == "hello\noops\n" and logs["offset"] == 0 and not logs["done"]
    assert ok(org.get(f"{path}/{proc['id']}/logs", params={"tail": 5}))["output"] == "oops\n"
    assert ok(org.get(f"{path}/{proc['id']}/logs", params={"offset": 6}))["output"] == "oops\n"
    assert [p["id"] for p in ok(org.get(path))] == [proc["id"]]
    stopped = ok(org.delete(f"{path}/{proc['id']}"))
    assert stopped["state"] == "stopped" and not stopped["running"]
    assert ok(org.get(f"{path}/{proc['id']}"))["state"] == "stopped"
    error_of(org.get(f"{path}/proc_0000"), 404, "PROCESS_NOT_FOUND")
    error_of(org.get(f"{path}/{proc['id']}/logs", params={"tail": 1, "offset": 1}), 422,
             "VALIDATION_FAILED")


def test_exit_codes_timeouts_and_followed_logs(org):
    sbx = create(org)
    path = f"{BASE}/{sbx['id']}/processes"
    quick = ok(org.post(path, {"command": "echo one; sleep 0.3; echo two; exit 7"}), 201)
    with org.client.stream("GET", f"{path}/{quick['id']}/logs",
                           params={"follow": "true"}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        got = events(resp)
    assert "".join(d["text"] for e, d in got if e == "output") == "one\ntwo\n"
    assert got[-1] == ("exit", {"state": "exited", "exit_code": 7, "truncated": False})
    slow = ok(org.post(path, {"command": "sleep 30", "timeout": 1}), 201)
    ended = wait_for(lambda: (p := ok(org.get(f"{path}/{slow['id']}")))["state"] != "running"
                     and p)
    assert ended["state"] == "timed_out" and ended["exit_code"] == 124


def test_exec_stream_sends_lines_then_the_exit(org):
    sbx = create(org)
    body = {"command": "echo first; echo err >&2; printf 'no newline'; exit 3"}
    with org.client.stream("POST", f"{BASE}/{sbx['id']}/exec/stream", json=body,
                           headers={"Accept": "text/event-stream, application/json;q=0.9"}) as r:
        assert r.status_code == 200
        got = events(r)
    assert ("stdout", {"line": "first"}) in got and ("stderr", {"line": "err"}) in got
    assert ("stdout", {"line": "no newline"}) in got
    kind, exit_frame = got[-1]
    assert kind == "exit" and exit_frame["exit_code"] == 3 and not exit_frame["timed_out"]
    # Refusals come before the stream, as JSON.
    resp = org.post(f"{BASE}/{sbx['id']}/exec/stream", {"command": "true", "cwd": "/etc"})
    error_of(resp, 422, "PATH_OUTSIDE_WORKSPACE")


def test_stop_start_pause_resume(org, container):
    sbx = create(org)
    serve(org, sbx, "page")
    paused = ok(org.post(f"{BASE}/{sbx['id']}/pause"))
    assert paused["state"] == "paused" and not paused["ready"]
    error_of(org.post(f"{BASE}/{sbx['id']}/exec", {"command": "true"}), 409,
             "SANDBOX_NOT_RUNNING")
    error_of(org.post(f"{BASE}/{sbx['id']}/start"), 409, "SANDBOX_STATE_CONFLICT")
    assert ok(org.post(f"{BASE}/{sbx['id']}/resume"))["state"] == "running"
    stopped = ok(org.post(f"{BASE}/{sbx['id']}/stop"))
    assert stopped["state"] == "stopped" and stopped["status_reason"] == "stopped on request"
    assert container.driver.sandbox_status(sbx["id"]).state == "stopped"
    assert ok(org.post(f"{BASE}/{sbx['id']}/stop"))["state"] == "stopped"  # again: no change
    error_of(org.post(f"{BASE}/{sbx['id']}/pause"), 409, "SANDBOX_STATE_CONFLICT")
    # Its processes ended with it; its files are still there.
    procs = ok(org.get(f"{BASE}/{sbx['id']}/processes"))
    assert [p["state"] for p in procs] == ["stopped"]
    started = ok(org.post(f"{BASE}/{sbx['id']}/start"))
    assert started["state"] == "running" and started["started_at"] == sbx["started_at"]
    assert ok(org.get(f"{BASE}/{sbx['id']}/ports"))["ports"] == []
    out = ok(org.post(f"{BASE}/{sbx['id']}/exec", {"command": "cat index.html"}))
    assert out["stdout"] == "page"
    org.delete(f"{BASE}/{sbx['id']}")
    error_of(org.post(f"{BASE}/{sbx['id']}/start"), 409, "SANDBOX_STATE_CONFLICT")


def test_another_organization_cannot_touch_the_runtime(org, other_org):
    sbx = create(org)
    proc = ok(org.post(f"{BASE}/{sbx['id']}/processes", {"command": "sleep 30"}), 201)
    for method, path in (("post", "stop"), ("post", "start"), ("post", "pause"),
                         ("post", "resume"), ("get", "ports"), ("get", "processes"),
                         ("get", f"processes/{proc['id']}"), ("delete", f"processes/{proc['id']}"),
                         ("get", f"processes/{proc['id']}/logs")):
        resp = getattr(other_org, method)(f"{BASE}/{sbx['id']}/{path}")
        assert resp.status_code == 404, (path, resp.text)
    resp = other_org.post(f"{BASE}/{sbx['id']}/exec/stream", {"command": "id"})
    assert resp.status_code == 404
    assert ok(org.get(f"{BASE}/{sbx['id']}/processes/{proc['id']}"))["state"] == "running"


def test_timeouts_stop_sandboxes(org, container, clock):
    lifetime = create(org, timeout_sec=60)
    idle = create(org, idle_timeout_sec=30)
    busy = create(org, idle_timeout_sec=30, always_on=True)
    assert JOBS["enforce_sandbox_timeouts"](container) == 0
    clock.advance(61)
    stopped = JOBS["enforce_sandbox_timeouts"](container)
    states = {s["id"]: ok(org.get(f"{BASE}/{s['id']}")) for s in (lifetime, idle, busy)}
    assert stopped >= 2
    assert states[lifetime["id"]]["state"] == "stopped"
    assert "timeout_sec (60 s) ran out" in states[lifetime["id"]]["status_reason"]
    assert states[idle["id"]]["state"] == "stopped"
    assert "idle_timeout_sec" in states[idle["id"]]["status_reason"]
    assert states[busy["id"]]["state"] == "running"  # always_on: never stopped for idling
    assert container.driver.sandbox_status(lifetime["id"]).state == "stopped"


def test_reconcile_after_a_restart(org, container):
    crashed, kept, forced = create(org), create(org), create(org, always_on=True)
    ok(org.post(f"{BASE}/{kept['id']}/stop"))
    root = container.driver.root
    # The machine restarted: holders are gone. And one stopped sandbox runs again behind
    # hostplane's back.
    for sandbox in (crashed, forced):
        _holder.stop(root / sandbox["id"])
    container.driver.start_sandbox(kept["id"])
    # A sandbox the machine holds that no record knows, older than the grace period.
    orphan, young = uuid.uuid4().hex, uuid.uuid4().hex
    for made in (orphan, young):
        assert container.driver.create_sandbox(SandboxSpec(id=made, slug="made")).running
    old = time.time() - sandbox_lifecycle.ORPHAN_GRACE.total_seconds() - 60
    os.utime(root / orphan / "identity", (old, old))

    JOBS["reconcile_sandboxes"](container)
    after = ok(org.get(f"{BASE}/{crashed['id']}"))
    assert after["state"] == "stopped" and "restarted" in after["status_reason"]
    assert ok(org.get(f"{BASE}/{forced['id']}"))["state"] == "running"
    assert container.driver.sandbox_status(forced["id"]).running
    assert container.driver.sandbox_status(kept["id"]).state == "stopped"
    assert not (root / orphan).exists()
    assert (root / young).exists()  # it may be a create whose record is about to commit
    container.driver.destroy_sandbox(young)


@pytest.mark.parametrize("action", ["stop", "start", "pause", "resume"])
def test_lifecycle_of_an_unknown_sandbox_is_404(org, action):
    error_of(org.post(f"{BASE}/sbx-unknown/{action}"), 404, "SANDBOX_NOT_FOUND")


def test_hostplanes_data_and_database_are_out_of_reach(org, container):
    sbx = create(org)
    data_dir = container.settings.data_dir.resolve()
    for command in (f"ls {data_dir}", f"cat {data_dir}/hostplane.db",
                    f"ls {container.driver.root}"):
        result = ok(org.post(f"{BASE}/{sbx['id']}/exec", {"command": command}))
        assert result["exit_code"] != 0 and result["stdout"] == "", command
    probe = ("python3 -c \"import socket, sys; s = socket.socket(); s.settimeout(2); "
             "sys.exit(s.connect_ex(('127.0.0.1', 5432)))\"")
    assert ok(org.post(f"{BASE}/{sbx['id']}/exec", {"command": probe}))["exit_code"] != 0


def test_a_destroyed_sandbox_leaves_nothing_behind(org, container):
    sbx = create(org)
    serve(org, sbx, "bye")
    holder = _holder.read(container.driver.root / sbx["id"])
    assert holder is not None
    assert ok(org.delete(f"{BASE}/{sbx['id']}"))["state"] == "destroyed"
    assert not (container.driver.root / sbx["id"]).exists()
    assert not holder.alive()
    assert container.driver.cgroups.pids_in(sbx["id"]) == []
    assert not any(g.exists() for g in container.driver.cgroups._groups(sbx["id"]))
    assert sbx["id"] not in open("/proc/self/mountinfo").read()
    assert not [p for p in os.listdir("/proc") if p.isdigit()
                and sbx["id"].encode() in _cmdline(p)]


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def test_a_command_after_a_stop_does_not_start_the_sandbox_again(org, container):
    sbx = create(org)
    ok(org.post(f"{BASE}/{sbx['id']}/stop"))
    # As a request that passed its check just before the stop would reach the driver:
    with pytest.raises(errors.Conflict):
        container.driver.exec(sbx["id"], "true")
    with pytest.raises(errors.Conflict):
        container.driver.start_process(sbx["id"], "sleep 300")
    assert container.driver.sandbox_status(sbx["id"]).state == "stopped"


def test_a_client_that_leaves_a_stream_ends_its_command(org, container):
    sbx = create(org)
    body = {"command": "echo begun; sleep 30; echo late"}
    with org.client.stream("POST", f"{BASE}/{sbx['id']}/exec/stream", json=body) as resp:
        for line in resp.iter_lines():
            if "begun" in line:
                break  # and leave
    deadline = time.monotonic() + 5
    while "sleep 30" in ok(org.post(f"{BASE}/{sbx['id']}/exec", {"command": "ps ax"}))["stdout"]:
        assert time.monotonic() < deadline, "the command outlived its client"
        time.sleep(0.1)
    found = org.get("/api/v1/audit-log", params={"action": "sandbox.exec",
                                                 "resource_id": sbx["id"]}).json()["data"]
    assert any(e["route"].endswith("/exec/stream") for e in found)  # recorded though cut off


def test_idle_timeout_spares_paused_sandboxes_and_counts_a_resume(org, container, clock):
    paused = create(org, idle_timeout_sec=30)
    ok(org.post(f"{BASE}/{paused['id']}/pause"))
    clock.advance(31)
    JOBS["enforce_sandbox_timeouts"](container)
    assert ok(org.get(f"{BASE}/{paused['id']}"))["state"] == "paused"


def test_one_organizations_commands_do_not_stall_anothers(org, other_org):
    """Sixteen slow commands of one organization used to take every driver slot of the process,
    so another organization's `echo` waited for them (issue 14 item 4)."""
    from concurrent.futures import ThreadPoolExecutor

    busy, calm = create(org), create(other_org)
    with ThreadPoolExecutor(16) as pool:
        slow = [pool.submit(org.post, f"{BASE}/{busy['id']}/exec",
                            {"command": "sleep 3", "timeout": 20}) for _ in range(16)]
        time.sleep(0.5)
        started = time.monotonic()
        quick = ok(other_org.post(f"{BASE}/{calm['id']}/exec", {"command": "echo hi"}))
        waited = time.monotonic() - started
        assert all(f.result().status_code == 200 for f in slow)  # queued, not refused
    assert quick["stdout"] == "hi\n" and waited < 2.0, waited


def test_disk_mb_bounds_what_a_sandbox_can_write(org, container):
    """Issue 14 item 5: `disk_mb: 256` let a sandbox write 1 GiB."""
    if container.driver.disk_problem:
        pytest.skip(f"no disk quotas here: {container.driver.disk_problem}")
    sbx = create(org, disk_mb=256)
    assert sbx["disk_mb"] == 256
    wrote = ok(org.post(f"{BASE}/{sbx['id']}/exec",
                        {"command": "dd if=/dev/zero of=big bs=1M count=400", "timeout": 120}))
    assert wrote["exit_code"] != 0 and "No space left on device" in wrote["stderr"]
    # The last megabyte, to the block: then nothing more fits, whoever writes it.
    ok(org.post(f"{BASE}/{sbx['id']}/exec", {"command": "dd if=/dev/zero of=rest bs=4k"}))
    full = error_of(org.post(f"{BASE}/{sbx['id']}/fs/write",
                             {"path": "more.txt", "content": "x" * 65536}), 413,
                    "SANDBOX_DISK_FULL")
    assert full["details"]["fix"]
