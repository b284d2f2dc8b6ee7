"""What a sandbox can see of the host (issue 14, items 1, 2, 5 and 8): an /etc of its own, a host uid
that owns nothing, the kernel's private /proc files covered, no host path of hostplane's data in
its PID 1 or its mounts, no descriptor but 0-2 in its commands, and a disk of disk_mb.
Real bubblewrap sandboxes; skipped where bubblewrap cannot run."""

from __future__ import annotations

import os
import secrets
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane import errors
from hostplane.compute import _disk
from hostplane.compute.local import LocalDriver
from hostplane.compute.port import SandboxSpec

SECRET = "not-for-sandboxes-" + secrets.token_hex(8)


@pytest.fixture
def private_file() -> Iterator[Path]:
    """A root-only file in the host's /etc, as /etc/shadow is (removed afterwards)."""
    path = Path(f"/etc/hostplane-test-{secrets.token_hex(6)}")
    _write_private(path, SECRET)
    yield path
    path.unlink(missing_ok=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _driver(root: Path) -> LocalDriver:
    made = LocalDriver(root, isolation="bubblewrap")
    if made.isolation_mode != "bubblewrap" or made.start_sandbox("probe").state == "error":
        pytest.skip("bubblewrap is not usable on this machine (CI installs it)")
    return made


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LocalDriver]:
    made = _driver(tmp_path / "sandboxes")
    yield made
    for sandbox_id in made.sandbox_ids():
        made.destroy_sandbox(sandbox_id)


def _sandbox(driver: LocalDriver, disk_mb: int = 1024) -> str:
    sandbox_id = uuid.uuid4().hex
    status = driver.create_sandbox(SandboxSpec(id=sandbox_id, slug="s", disk_mb=disk_mb))
    assert status.running, status.reason
    return sandbox_id


def test_a_host_file_replaced_while_a_sandbox_runs_stays_out_of_reach(driver, private_file):
    """Finding 1: a cover over a private file fell off when the host renamed a file over it."""
    sandbox_id = _sandbox(driver)
    replacement = private_file.with_name(private_file.name + ".new")
    _write_private(replacement, SECRET)
    os.replace(replacement, private_file)  # what passwd, useradd and package installs do
    seen = driver.exec(sandbox_id, f"cat {private_file}; cat /etc/shadow; ls /etc")
    assert SECRET not in seen.stdout
    assert private_file.name not in seen.stdout and "shadow" not in seen.stdout


def test_etc_is_the_sandboxs_own(driver):
    sandbox_id = _sandbox(driver)
    users = driver.exec(sandbox_id, "cut -d: -f1 /etc/passwd").stdout.split()
    assert users == ["root", "user", "nobody"]  # none of the host's accounts
    assert driver.exec(sandbox_id, "hostname; cat /etc/hostname").stdout == "sandbox\nsandbox\n"
    # What programs need from it still works: the loader, awk (an alternatives link), TLS roots.
    ok = driver.exec(sandbox_id, "awk 'BEGIN { print 1 }' && python3 -c 'import ssl; "
                                 "print(len(ssl.create_default_context().get_ca_certs()) >= 0)'")
    assert ok.exit_code == 0 and ok.stdout == "1\nTrue\n", ok.stderr


def test_private_host_files_made_or_removed_after_start(tmp_path):
    """Finding 2: the covers were listed once, when hostplane started."""
    path = Path(f"/etc/hostplane-test-{secrets.token_hex(6)}")
    _write_private(path, SECRET)
    try:
        driver = _driver(tmp_path / "sandboxes")
        path.unlink()  # listed when the driver started, gone now: sandboxes still start
        late = Path(f"/usr/local/hostplane-test-{secrets.token_hex(6)}")
        _write_private(late, SECRET)  # root-only, made after start, in a directory it sees
        try:
            sandbox_id = _sandbox(driver)
            seen = driver.exec(sandbox_id, f"cat {late}")
            assert seen.exit_code != 0 and SECRET not in seen.stdout
            assert "Permission denied" in seen.stderr
        finally:
            late.unlink()
            for sandbox_id in driver.sandbox_ids():
                driver.destroy_sandbox(sandbox_id)
    finally:
        path.unlink(missing_ok=True)


def test_each_sandbox_runs_as_a_host_uid_of_its_own_and_owns_its_files(driver):
    a, b = _sandbox(driver), _sandbox(driver)
    uid_a = int(driver.exec(a, "id -u").stdout)
    uid_b = int(driver.exec(b, "id -u").stdout)
    assert uid_a != uid_b and uid_a in driver.uids and uid_b in driver.uids
    assert driver.exec(a, "id -G").stdout.split() == [str(uid_a)]  # no other group
    # Files the API writes are the sandbox's, as if it had written them itself.
    driver.write_file(a, "made/by/api.txt", b"one\n")
    assert driver.exec(a, "echo two >> made/by/api.txt && mkdir made/by/more").exit_code == 0
    assert driver.read_file(a, "made/by/api.txt", max_bytes=100) == b"one\ntwo\n"
    # Another sandbox's processes are another user's: not even visible, and not signalable.
    assert driver.exec(b, f"ps -eo uid | grep -c {uid_a}").stdout.strip() == "0"
    # Stopped and started again, or seen by another hostplane process: the same uid.
    driver.stop_sandbox(a)
    assert driver.start_sandbox(a).running
    again = LocalDriver(driver.root, isolation="bubblewrap")
    assert int(again.exec(a, "id -u").stdout) == uid_a


def test_the_kernels_private_proc_files_are_covered(driver):
    """Finding 8: slabinfo, vmallocinfo (physical addresses), pagetypeinfo... and whatever else
    /proc keeps from other users on this kernel."""
    sandbox_id = _sandbox(driver)
    private = [str(p) for p in Path("/proc").iterdir()
               if not p.name.isdigit() and p.is_file()
               and not os.lstat(p).st_mode & stat.S_IROTH]
    assert "/proc/slabinfo" in private or not os.path.exists("/proc/slabinfo")
    for path in private:
        seen = driver.exec(sandbox_id, f"head -c 64 {path}")
        assert seen.stdout == "", path


def test_no_host_path_of_hostplanes_data_shows_inside(driver):
    """Finding 8: /proc/1/cmdline named the data dir, /proc/1/environ the server's working
    directory, mountinfo the workspace's host path."""
    if driver.disk_problem:
        pytest.skip(f"no disk quotas here ({driver.disk_problem}): the workspace is a bind mount")
    sandbox_id = _sandbox(driver)
    seen = driver.exec(sandbox_id, "for f in /proc/1/cmdline /proc/1/environ /proc/self/mountinfo "
                                   "/proc/1/mountinfo; do tr '\\0' ' ' < $f; done; "
                                   "readlink /proc/1/cwd /proc/1/root /proc/self/cwd")
    text = seen.stdout + seen.stderr
    for host_path in {str(driver.root), os.path.realpath(driver.root), os.getcwd()}:
        assert host_path not in text
    assert "/workspace" in text  # the check looked at the right things


def test_commands_and_processes_inherit_only_the_standard_descriptors(driver):
    """Finding 8: descriptors 22-29 (the namespaces entered, the sandbox's root) were open in
    every command."""
    sandbox_id = _sandbox(driver)
    assert driver.exec(sandbox_id, "ls /proc/$$/fd").stdout.split() == ["0", "1", "2"]
    process = driver.start_process(sandbox_id, "ls /proc/$$/fd")
    deadline = time.monotonic() + 10
    while driver.get_process(sandbox_id, process.id).state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert driver.read_output(sandbox_id, process.id).data.split() == [b"0", b"1", b"2"]


def test_writing_past_disk_mb_fails_inside_and_leaves_the_host_alone(driver):
    """Finding 5: `disk_mb: 256` let a sandbox write 1 GiB."""
    if driver.disk_problem:
        pytest.skip(f"no disk quotas here ({driver.disk_problem})")
    sandbox_id = _sandbox(driver, disk_mb=256)
    driver.write_file(sandbox_id, "kept.txt", b"kept")
    for where in ("/workspace", "/tmp"):
        full = driver.exec(sandbox_id, f"dd if=/dev/zero of={where}/big bs=1M count=400",
                           timeout=120)
        assert full.exit_code != 0 and "No space left on device" in full.stderr, where
        size = int(driver.exec(sandbox_id, f"stat -c %s {where}/big").stdout)
        assert 200 * 2**20 < size <= 256 * 2**20, where
    # The API's own writes meet the same limit, with an error that says what to do.
    with pytest.raises(errors.TooLarge) as refused:
        driver.write_file(sandbox_id, "more.bin", b"x" * (64 * 2**20))
    assert refused.value.code == "SANDBOX_DISK_FULL"
    image = driver.root / sandbox_id / _disk.IMAGE
    assert os.stat(image).st_blocks * 512 <= 260 * 2**20  # the host gave it no more than that
    # Its files persist across stop and start, as before.
    driver.stop_sandbox(sandbox_id)
    assert driver.start_sandbox(sandbox_id).running
    assert driver.exec(sandbox_id, "cat kept.txt").stdout == "kept"


def test_a_disk_comes_back_after_a_reboot_mounted_once(driver):
    if driver.disk_problem:
        pytest.skip(f"no disk quotas here ({driver.disk_problem})")
    sandbox_id = _sandbox(driver, disk_mb=256)
    driver.write_file(sandbox_id, "kept.txt", b"kept")
    driver.stop_sandbox(sandbox_id)
    workspace = driver.root / sandbox_id / "workspace"
    _disk.unmount(workspace)  # what a reboot leaves: the image, no mount
    assert not os.path.ismount(workspace)
    readers = [threading.Thread(target=driver.list_files, args=(sandbox_id, "/workspace"))
               for _ in range(8)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if f" {workspace} " in line]
    assert len(mounts) == 1  # one loop device writes the image, never two
    assert driver.read_file(sandbox_id, "kept.txt", max_bytes=10) == b"kept"
    assert driver.start_sandbox(sandbox_id).running
    assert driver.exec(sandbox_id, "cat kept.txt").stdout == "kept"


def test_uids_are_given_back_and_running_out_is_said(tmp_path):
    from hostplane.compute.local import UidRange

    driver = LocalDriver(tmp_path / "sandboxes", isolation="bubblewrap",
                         uids=UidRange(base=0x70000000 + 4096, count=1))
    if driver.start_sandbox("probe").state == "error":
        pytest.skip("bubblewrap is not usable on this machine (CI installs it)")
    first = _sandbox(driver)
    with pytest.raises(errors.Unavailable) as refused:
        _sandbox(driver)
    assert refused.value.code == "SANDBOX_UIDS_EXHAUSTED"
    assert "HOSTPLANE_SANDBOX_UID_COUNT" in refused.value.details["fix"]
    driver.destroy_sandbox(first)
    second = _sandbox(driver)  # the destroyed sandbox's uid is free again
    assert int(driver.exec(second, "id -u").stdout) == 0x70000000 + 4096
    for sandbox_id in driver.sandbox_ids():
        driver.destroy_sandbox(sandbox_id)
