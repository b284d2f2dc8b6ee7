"""A sandbox's disk quota: its workspace is an ext4 filesystem of its own, `disk_mb` large, in a
sparse image file beside it (`<home>/disk.img`), loop-mounted on the workspace directory.

Writing past it fails with ENOSPC inside the sandbox and leaves the host's disk alone; the image
only takes the host space its files do. The mount outlives the sandbox's processes (stopped, its
files stay readable through the API) and is made again when it is missing (the machine
restarted). It needs root, mkfs.ext4 and loop devices; `unavailable()` says which is missing, and
then workspaces are plain directories without a quota.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

IMAGE = "disk.img"
# nosuid: a file the sandbox marks setuid gives nobody its owner's rights; nodev: no device files.
_OPTIONS = "loop,nosuid,nodev,noatime"
_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def unavailable() -> str | None:
    """Why this machine cannot give sandboxes disk quotas, or None when it can."""
    if os.geteuid() != 0:
        return "hostplane does not run as root (loop mounts need it)"
    missing = [tool for tool in ("mkfs.ext4", "mount", "umount") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} was not found (apt-get install e2fsprogs mount)"
    if not os.path.exists("/dev/loop-control"):
        return "the kernel offers no loop devices (/dev/loop-control is missing; modprobe loop)"
    return None


def make(home: Path, workspace: Path, size_mb: int, owner: int) -> None:
    """A new, empty filesystem of `size_mb` for the workspace, mounted on it and owned by
    `owner` (the sandbox's uid)."""
    image = home / IMAGE
    fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, size_mb * 1024 * 1024)  # sparse: nothing is written yet
    finally:
        os.close(fd)
    # -m 0: no blocks kept back for root, so disk_mb is what the sandbox can fill. Lazy
    # initialisation, no discard and no room reserved for growing it offline keep this to a few
    # milliseconds whatever the size (half of it went to the reserve at 10 GiB).
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^resize_inode", "-E",
          f"lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner={owner}:{owner}",
          str(image)])
    workspace.mkdir(mode=0o700, exist_ok=True)
    mount(home, workspace)
    (workspace / "lost+found").rmdir()  # the sandbox's workspace starts empty, as before


def has_image(home: Path) -> bool:
    return (home / IMAGE).exists()


def mount(home: Path, workspace: Path) -> None:
    """Mount the image on the workspace unless it is already there."""
    if not os.path.ismount(workspace):
        _run(["mount", "-t", "ext4", "-o", _OPTIONS, str(home / IMAGE), str(workspace)])


def unmount(workspace: Path) -> None:
    """Unmount the workspace (its processes were ended before); a file the API still holds open
    only delays the release of the loop device, not the removal."""
    if os.path.ismount(workspace):
        if subprocess.run(["umount", str(workspace)], capture_output=True).returncode != 0:
            _run(["umount", "--lazy", str(workspace)])


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env={"PATH": _PATH})
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise OSError(f"{argv[0]} failed: {lines[-1] if lines else done.returncode}")
