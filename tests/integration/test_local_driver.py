"""The local compute driver against real processes and real files, with and without bubblewrap."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane import errors
from hostplane.compute.local import LocalDriver
from hostplane.compute.port import SANDBOX, ExecResult, SandboxSpec


@pytest.fixture(scope="module", params=["none", "bubblewrap"])
def driver(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LocalDriver:
    # One driver per mode for the module: bubblewrap is probed once, sandboxes stay apart by id.
    made = LocalDriver(tmp_path_factory.mktemp(request.param), isolation=request.param)
    if request.param == "bubblewrap" and made.sandbox_status("probe").state == "error":
        pytest.skip("bubblewrap is not usable on this machine (CI installs it)")
    return made


@pytest.fixture
def fs_driver(tmp_path: Path) -> LocalDriver:
    """For file tests, which do not depend on how commands run."""
    return LocalDriver(tmp_path, isolation="none")


def _new_sandbox(driver: LocalDriver, **env: str) -> str:
    sandbox_id = uuid.uuid4().hex
    assert driver.create_sandbox(SandboxSpec(id=sandbox_id, slug="s", env=env)).running
    return sandbox_id


@pytest.fixture
def sbx(driver: LocalDriver) -> Iterator[str]:
    sandbox_id = _new_sandbox(driver)
    yield sandbox_id
    driver.destroy_sandbox(sandbox_id)


@pytest.fixture
def fsbx(fs_driver: LocalDriver) -> str:
    return _new_sandbox(fs_driver)


def _exists(driver: LocalDriver, sandbox_id: str, path: str) -> bool:
    try:
        driver.stat(sandbox_id, path)
    except errors.NotFound:
        return False
    return True


def _needs_bubblewrap(driver: LocalDriver) -> None:
    if driver.isolation_mode != "bubblewrap":
        pytest.skip("bubblewrap is not usable here (or isolation is none)")


# Lifecycle


def test_lifecycle(tmp_path: Path) -> None:
    driver = LocalDriver(tmp_path, isolation="none")
    assert driver.capabilities() == frozenset({SANDBOX})
    assert driver.sandbox_status("abc").state == "stopped"
    spec = SandboxSpec(id="abc", slug="abc")
    assert driver.create_sandbox(spec).running
    assert driver.create_sandbox(spec).running  # idempotent
    assert (tmp_path / "abc" / "workspace").is_dir()
    driver.write_file("abc", "f.txt", b"x")
    driver.destroy_sandbox("abc")
    assert not (tmp_path / "abc").exists()
    assert driver.sandbox_status("abc").state == "stopped"
    driver.destroy_sandbox("abc")  # a no-op
    with pytest.raises(errors.Conflict) as caught:
        driver.exec("abc", "true")
    assert caught.value.code == "SANDBOX_NOT_RUNNING"


@pytest.mark.parametrize("bad", ["", "..", "a/b", "a.b", "x" * 65, "../etc", "a\0"])
def test_unsafe_sandbox_ids_are_bugs(fs_driver: LocalDriver, bad: str) -> None:
    with pytest.raises(ValueError):
        fs_driver.sandbox_status(bad)


def test_required_bubblewrap_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    driver = LocalDriver(tmp_path, isolation="bubblewrap")
    status = driver.create_sandbox(SandboxSpec(id="abc", slug="abc"))
    assert status.state == "error"
    assert status.reason is not None and status.reason.startswith("bubblewrap is not available")
    with pytest.raises(errors.Conflict) as caught:
        driver.exec("abc", "true")
    assert caught.value.code == "SANDBOX_NOT_RUNNING"
    # "auto" fails closed too: unisolated commands are only ever the operator's explicit choice.
    auto = LocalDriver(tmp_path / "auto", isolation="auto")
    assert auto.create_sandbox(SandboxSpec(id="abc", slug="abc")).state == "error"


def test_destroy_kills_running_commands(driver: LocalDriver) -> None:
    sandbox_id = _new_sandbox(driver)
    results: list[ExecResult] = []
    worker = threading.Thread(
        target=lambda: results.append(driver.exec(sandbox_id, "touch started; sleep 5", timeout=10))
    )
    started = time.monotonic()
    worker.start()
    # Through the driver: a running sandbox's disk is mounted in its namespace, not on the host.
    while not _exists(driver, sandbox_id, "started") and time.monotonic() - started < 5:
        time.sleep(0.02)
    driver.destroy_sandbox(sandbox_id)
    worker.join(timeout=5)
    assert results and results[0].exit_code != 0 and not results[0].timed_out
    assert time.monotonic() - started < 4
    assert not (driver.root / sandbox_id).exists()


# Commands


def test_python_runs(driver: LocalDriver, sbx: str) -> None:
    result = driver.exec(sbx, 'python3 -c "print(1+1)"')
    assert (result.stdout, result.exit_code, result.timed_out) == ("2\n", 0, False)
    assert result.duration_ms >= 0


def test_exit_code_and_stderr(driver: LocalDriver, sbx: str) -> None:
    result = driver.exec(sbx, "echo oops >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "", "oops\n")


def test_timeout_kills_the_group(driver: LocalDriver, sbx: str) -> None:
    started = time.monotonic()
    result = driver.exec(sbx, "sleep 5", timeout=0.5)
    assert time.monotonic() - started < 3
    assert result.timed_out and result.exit_code == 124


def test_background_jobs_do_not_hold_the_exec(driver: LocalDriver, sbx: str) -> None:
    started = time.monotonic()
    result = driver.exec(sbx, "sleep 5 & echo started", timeout=10)
    assert result.stdout == "started\n" and not result.timed_out
    assert time.monotonic() - started < 3


def test_output_is_capped(driver: LocalDriver, sbx: str) -> None:
    result = driver.exec(sbx, "python3 -c \"import sys; sys.stdout.write('x' * 1500000)\"")
    assert result.truncated and len(result.stdout) == 1024 * 1024 and result.exit_code == 0


def test_env(driver: LocalDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTPLANE_SECRET_TEST", "leak")
    sandbox_id = _new_sandbox(driver, FROM_SPEC="spec", BOTH="spec")
    result = driver.exec(sandbox_id, "env", env={"GREETING": "hi there", "BOTH": "exec"})
    lines = set(result.stdout.splitlines())
    assert {"GREETING=hi there", "FROM_SPEC=spec", "BOTH=exec", "LANG=C.UTF-8"} <= lines
    assert "leak" not in result.stdout and "HOSTPLANE" not in result.stdout
    for bad_env in ({"A=B": "x"}, {"BIG": "y" * 200_000}):
        with pytest.raises(errors.Invalid) as caught:
            driver.exec(sandbox_id, "env", env=bad_env)
        assert caught.value.details["field"] == "env"
    with pytest.raises(errors.Invalid) as too_long:
        driver.exec(sandbox_id, "#" * 200_000)
    assert too_long.value.details["field"] == "command"
    driver.destroy_sandbox(sandbox_id)


def test_cwd(driver: LocalDriver, sbx: str) -> None:
    driver.write_file(sbx, "/workspace/sub/dir/f.txt", b"here")
    assert driver.exec(sbx, "cat f.txt", cwd="sub/dir").stdout == "here"
    assert driver.exec(sbx, "cat f.txt", cwd="/workspace/sub/dir").stdout == "here"
    with pytest.raises(errors.NotFound) as missing:
        driver.exec(sbx, "true", cwd="nope")
    assert missing.value.code == "FILE_NOT_FOUND" and missing.value.details["field"] == "cwd"
    with pytest.raises(errors.Invalid) as outside:
        driver.exec(sbx, "true", cwd="/etc")
    assert outside.value.code == "PATH_OUTSIDE_WORKSPACE"
    assert outside.value.details["field"] == "cwd"


def test_bubblewrap_shows_workspace(driver: LocalDriver, sbx: str) -> None:
    _needs_bubblewrap(driver)
    driver.write_file(sbx, "/workspace/a.txt", b"visible")
    assert driver.exec(sbx, "pwd").stdout == "/workspace\n"
    assert driver.exec(sbx, "cat /workspace/a.txt").stdout == "visible"
    # What the sandbox writes lands in the workspace the API reads.
    driver.exec(sbx, "mkdir -p out && echo made > /workspace/out/b.txt")
    assert driver.read_file(sbx, "out/b.txt", max_bytes=100) == b"made\n"
    # Another sandbox's files and the host's secrets are out of sight.
    assert driver.exec(sbx, f"ls {driver.root}").exit_code != 0
    assert driver.exec(sbx, "cat /etc/shadow").stdout == ""


def test_links_made_by_commands_are_refused(driver: LocalDriver, sbx: str) -> None:
    assert driver.exec(sbx, "ln -s /etc evil && ln -s /etc/passwd pw").exit_code == 0
    for op in (
        lambda: driver.read_file(sbx, "evil/passwd", max_bytes=10_000),
        lambda: driver.read_file(sbx, "pw", max_bytes=10_000),
        lambda: driver.write_file(sbx, "evil/x", b"x"),
        lambda: driver.list_files(sbx, "evil"),
        lambda: driver.exec(sbx, "true", cwd="evil"),
    ):
        with pytest.raises(errors.Invalid) as caught:
            op()
        assert caught.value.code == "PATH_OUTSIDE_WORKSPACE"
    assert not os.path.exists("/etc/x")
    # A link that stays inside is fine, whether absolute in the sandbox's view or relative.
    driver.exec(sbx, 'mkdir d && echo in > d/f && ln -s d rel && ln -s "$PWD/d" abs')
    assert driver.read_file(sbx, "rel/f", max_bytes=10) == b"in\n"
    assert driver.read_file(sbx, "abs/f", max_bytes=10) == b"in\n"


# Files


def test_write_read_round_trip(fs_driver: LocalDriver, fsbx: str) -> None:
    data = bytes(range(256)) * 3
    written = fs_driver.write_file(fsbx, "/workspace/deep/er/blob.bin", data)
    assert (written.name, written.path, written.size, written.is_dir) == (
        "blob.bin", "/workspace/deep/er/blob.bin", len(data), False,
    )  # fmt: skip
    assert fs_driver.read_file(fsbx, "deep/er/blob.bin", max_bytes=len(data)) == data
    fs_driver.write_file(fsbx, "deep/er/blob.bin", b"new")  # replaces
    assert fs_driver.read_file(fsbx, "./deep/../deep/er/blob.bin", max_bytes=3) == b"new"
    leftovers = os.listdir(fs_driver.root / fsbx / "workspace" / "deep" / "er")
    assert leftovers == ["blob.bin"]  # no temporary files behind


def test_read_errors(fs_driver: LocalDriver, fsbx: str) -> None:
    fs_driver.write_file(fsbx, "dir/f.txt", b"0123456789")
    with pytest.raises(errors.NotFound) as missing:
        fs_driver.read_file(fsbx, "nope.txt", max_bytes=10)
    assert missing.value.code == "FILE_NOT_FOUND"
    with pytest.raises(errors.TooLarge) as large:
        fs_driver.read_file(fsbx, "dir/f.txt", max_bytes=9)
    assert large.value.code == "FILE_TOO_LARGE"
    for directory in ("dir", "/workspace"):
        with pytest.raises(errors.Invalid) as is_dir:
            fs_driver.read_file(fsbx, directory, max_bytes=10)
        assert is_dir.value.code == "IS_A_DIRECTORY" and is_dir.value.details["field"] == "path"
    with pytest.raises(errors.Invalid) as write_dir:
        fs_driver.write_file(fsbx, "dir", b"x")
    assert write_dir.value.code == "IS_A_DIRECTORY"
    os.mkfifo(fs_driver.root / fsbx / "workspace" / "fifo")
    with pytest.raises(errors.Invalid):  # and does not hang
        fs_driver.read_file(fsbx, "fifo", max_bytes=10)


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "/workspace/../../etc/passwd", "/workspacex/a", "a\0b"]
)
def test_escapes_are_refused(fs_driver: LocalDriver, fsbx: str, path: str) -> None:
    for op in (
        lambda: fs_driver.read_file(fsbx, path, max_bytes=10_000),
        lambda: fs_driver.write_file(fsbx, path, b"x"),
        lambda: fs_driver.stat(fsbx, path),
        lambda: fs_driver.list_files(fsbx, path),
    ):
        with pytest.raises(errors.Invalid) as caught:
            op()
        assert caught.value.code == "PATH_OUTSIDE_WORKSPACE"
        assert caught.value.details["field"] == "path"
        assert caught.value.details["rule"] == "paths must stay inside /workspace"


def test_symlinks_out_are_refused(fs_driver: LocalDriver, fsbx: str, tmp_path: Path) -> None:
    workspace = fs_driver.root / fsbx / "workspace"
    os.symlink("/etc", workspace / "evil")
    os.symlink("../../..", workspace / "up")
    (workspace / "sub").mkdir()
    os.symlink("/workspace/../etc", workspace / "sub" / "sneaky")
    for path in ("evil/passwd", "evil/x", "up/etc/passwd", "sub/sneaky/passwd", "evil"):
        with pytest.raises(errors.Invalid) as caught:
            fs_driver.write_file(fsbx, path, b"x")
        assert caught.value.code == "PATH_OUTSIDE_WORKSPACE"
        with pytest.raises(errors.Invalid):
            fs_driver.read_file(fsbx, path, max_bytes=10_000)
    os.symlink("loop", workspace / "loop")
    with pytest.raises(errors.Invalid):
        fs_driver.read_file(fsbx, "loop", max_bytes=10)


def test_list_and_stat(fs_driver: LocalDriver, fsbx: str) -> None:
    for path in ("a.txt", "b/c.txt", "b/d/e.txt", "b-z.txt"):
        fs_driver.write_file(fsbx, path, b"12345")
    os.symlink("/etc", fs_driver.root / fsbx / "workspace" / "b" / "link")
    top = fs_driver.list_files(fsbx, "/workspace")
    assert [e.path for e in top] == ["/workspace/a.txt", "/workspace/b", "/workspace/b-z.txt"]
    assert [e.is_dir for e in top] == [False, True, False]
    deep = fs_driver.list_files(fsbx, "b", depth=5)
    assert [e.path for e in deep] == [
        "/workspace/b/c.txt", "/workspace/b/d", "/workspace/b/d/e.txt", "/workspace/b/link",
    ]  # fmt: skip
    assert not deep[-1].is_dir  # the link is listed, never followed
    assert [e.path for e in fs_driver.list_files(fsbx, "b", depth=1)] == [
        "/workspace/b/c.txt", "/workspace/b/d", "/workspace/b/link",
    ]  # fmt: skip
    with pytest.raises(errors.Invalid):
        fs_driver.list_files(fsbx, "b", depth=0)
    with pytest.raises(errors.NotFound):
        fs_driver.list_files(fsbx, "nope")
    entry = fs_driver.stat(fsbx, "b/c.txt")
    assert (entry.name, entry.path, entry.size, entry.is_dir) == (
        "c.txt",
        "/workspace/b/c.txt",
        5,
        False,
    )
    assert entry.modified_at > time.time() - 60
    root = fs_driver.stat(fsbx, "/workspace")
    assert (root.path, root.is_dir) == ("/workspace", True)
    with pytest.raises(errors.NotFound):
        fs_driver.stat(fsbx, "b/missing")


def test_sandboxes_do_not_see_each_other(fs_driver: LocalDriver, fsbx: str) -> None:
    other = _new_sandbox(fs_driver)
    fs_driver.write_file(fsbx, "mine.txt", b"1")
    with pytest.raises(errors.NotFound):
        fs_driver.read_file(other, "mine.txt", max_bytes=10)
    with pytest.raises(errors.Invalid):
        fs_driver.read_file(other, f"../../{fsbx}/workspace/mine.txt", max_bytes=10)
    assert fs_driver.list_files(other, "/workspace") == []


def test_bubblewrap_sandbox_has_no_way_to_the_host(driver: LocalDriver, sbx: str) -> None:
    """No network but loopback (the host's PostgreSQL and API are out of reach), and no file the
    host keeps from other users, such as /etc/shadow."""
    _needs_bubblewrap(driver)
    probe = ("python3 -c \"import socket; s = socket.socket(); s.settimeout(2); "
             "s.connect(('127.0.0.1', 5432))\"")
    assert driver.exec(sbx, probe, timeout=10).exit_code != 0
    assert driver.exec(sbx, "cat /etc/shadow", timeout=10).stdout == ""


def test_the_sandboxes_tree_is_private(driver: LocalDriver, sbx: str) -> None:
    """Only hostplane's user may enter it: a setuid file made inside is unreachable to others."""
    assert driver.root.stat().st_mode & 0o777 == 0o700


def test_stop_and_start_in_every_mode(driver: LocalDriver) -> None:
    sandbox_id = _new_sandbox(driver)
    driver.write_file(sandbox_id, "kept.txt", b"kept")
    driver.stop_sandbox(sandbox_id)
    assert driver.sandbox_status(sandbox_id).state == "stopped"
    with pytest.raises(errors.Conflict) as stopped:
        driver.exec(sandbox_id, "true")
    assert stopped.value.code == "SANDBOX_NOT_RUNNING"
    assert driver.start_sandbox(sandbox_id).running
    assert driver.exec(sandbox_id, "cat kept.txt").stdout == "kept"
    driver.destroy_sandbox(sandbox_id)
