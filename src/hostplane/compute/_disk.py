"""A sandbox's disk quota: its workspace is an ext4 filesystem of its own, `disk_mb` large, in a
sparse image file beside it (`<home>/disk.img`), on a loop device.

Writing past it fails with ENOSPC inside the sandbox and leaves the host's disk alone; the image
only takes the host space its files do. It needs root, mkfs.ext4 and loop devices;
`unavailable()` says which is missing, and then workspaces are plain directories without a quota.

Where it is mounted: on the workspace directory on the host while the sandbox has no holder
(stopped: its files stay readable through the API; isolation none: commands use the host's
path), and only inside the sandbox's own mount namespace while it runs under bubblewrap. Its
start mounts it where holders are started from (a namespace of the driver's, see _staging),
bubblewrap binds it into the sandbox's new namespace, and that first mount is taken away again:
no mount table but the sandbox's own grows with the running sandboxes (bubblewrap reads the
whole table for every mount it makes, so each start would cost more with every sandbox
running). The filesystem lives as long as a mount of it does; the sandbox's namespace ends with
its holder, then the loop device lets go of the image by itself.

One filesystem per image, ever: the loop device keeps the image's descriptor, and with it a
lock taken on that descriptor, for as long as the filesystem is mounted anywhere. Mounting the
image again elsewhere waits for that lock (two loop devices on one image would each write the
filesystem as if it were theirs alone).

A new disk is a copy of an empty filesystem of its size, made once per size
(`<root>/.disks/<size>.img`): copying its few hundred KiB of metadata takes about a millisecond,
where mkfs takes tens (all its copies share the filesystem UUID, which nothing here uses).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import secrets
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from hostplane.compute._holder import libc

IMAGE = "disk.img"
_TEMPLATES = ".disks"
_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# nosuid: a file the sandbox marks setuid gives nobody its owner's rights; nodev: no device files.
_MS_NOSUID, _MS_NODEV, _MS_NOATIME, _MNT_DETACH = 0x2, 0x4, 0x400, 0x2
# How long a mount waits for the loop device of the image's last mount to let go of it.
_RELEASE_WAIT = 10.0
# <linux/loop.h>: a free device, and one call that attaches a file to it (Linux 5.8). With
# autoclear the device lets go of the image by itself once the last mount of it is gone.
_LOOP_CTL_GET_FREE, _LOOP_CONFIGURE, _LO_FLAGS_AUTOCLEAR = 0x4C82, 0x4C0A, 4
_LOOP_CONFIG = struct.Struct("=II52xI240x")  # fd, block_size, loop_info64 (lo_flags at +52)


def unavailable() -> str | None:
    """Why this machine cannot give sandboxes disk quotas, or None when it can."""
    if os.geteuid() != 0:
        return "hostplane does not run as root (loop mounts need it)"
    if shutil.which("mkfs.ext4", path=_PATH) is None:
        return "mkfs.ext4 was not found (apt-get install e2fsprogs)"
    if not os.path.exists("/dev/loop-control"):
        return "the kernel offers no loop devices (/dev/loop-control is missing; modprobe loop)"
    release = os.uname().release
    if tuple(int(part) for part in re.findall(r"\d+", release)[:2]) < (5, 8):
        return f"the kernel ({release}) is older than 5.8 (no LOOP_CONFIGURE)"
    return None


def make(home: Path, workspace: Path, size_mb: int, owner: int, *, mounted: bool = True) -> None:
    """A new, empty filesystem of `size_mb` for the workspace; `mounted`: mounted on it now and
    owned by `owner` (the sandbox's uid)."""
    _copy_sparse(_template(home.parent / _TEMPLATES, size_mb), home / IMAGE)
    workspace.mkdir(mode=0o700, exist_ok=True)
    if mounted:
        mount(home, workspace)
        os.chown(workspace, owner, owner)


def _template(templates: Path, size_mb: int) -> Path:
    """The empty filesystem of `size_mb` new disks are copies of, made on first use."""
    template = templates / f"{size_mb}.img"
    if template.exists():
        return template
    templates.mkdir(mode=0o700, exist_ok=True)
    temp = templates / f".{size_mb}-{secrets.token_hex(4)}.img"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, size_mb * 1024 * 1024)  # sparse: nothing is written yet
    finally:
        os.close(fd)
    try:
        # -m 0: no blocks kept back for root, so disk_mb is what the sandbox can fill. Lazy
        # initialisation (its metadata stays small), no discard, and no room reserved for
        # growing it offline (half of mkfs's time at 10 GiB).
        _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^resize_inode", "-E",
              "lazy_itable_init=1,lazy_journal_init=1,nodiscard", str(temp)])
        _without_lost_found(temp)  # a sandbox's workspace starts empty, as before
        os.replace(temp, template)  # whole or not at all, for every process on the machine
    finally:
        temp.unlink(missing_ok=True)
    return template


def _without_lost_found(image: Path) -> None:
    mountpoint = image.with_suffix(".mnt")
    mountpoint.mkdir(mode=0o700)
    try:
        mount(image.parent, mountpoint, image=image)
        try:
            (mountpoint / "lost+found").rmdir()
        finally:
            unmount(mountpoint)
    finally:
        mountpoint.rmdir()


def _copy_sparse(source: Path, dest: Path) -> None:
    """Copy `source` to the new file `dest`, its holes left holes."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(dst, os.fstat(src).st_size)
            end = 0
            while True:
                try:
                    start = os.lseek(src, end, os.SEEK_DATA)
                except OSError:  # ENXIO: no data past `end`
                    return
                end = os.lseek(src, start, os.SEEK_HOLE)
                at = start
                while at < end:
                    at += os.copy_file_range(src, dst, end - at, at, at)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def has_image(home: Path) -> bool:
    return (home / IMAGE).exists()


def mount(home: Path, workspace: Path, *, image: Path | None = None) -> None:
    """Mount the image (the sandbox's, in `home`) on the workspace unless it is already there.
    Waits (a few seconds at most) while the image is mounted somewhere else: in the namespace
    of a holder that is ending, say. System calls rather than mount(8): milliseconds less of
    every create, more with many sandboxes mounted (mount(8) reads the whole mount table)."""
    if os.path.ismount(workspace):
        return
    image = image or home / IMAGE
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        if not _lock(backing, workspace):
            return  # another process mounted it here meanwhile
        number, device = _attach(backing)  # the device keeps `backing`, and its lock
    finally:
        os.close(backing)
    try:
        if libc().mount(f"/dev/loop{number}".encode(), str(workspace).encode(), b"ext4",
                         _MS_NOSUID | _MS_NODEV | _MS_NOATIME, None) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"mounting its disk failed: {os.strerror(code)}")
    finally:
        os.close(device)  # the mount holds the device now (autoclear)


def _lock(backing: int, workspace: Path) -> bool:
    """Lock the image through `backing`, which the loop device will keep: False if it turns out
    mounted on `workspace` already (by another process, or by a hostplane from before this
    lock, which did not keep one)."""
    deadline = time.monotonic() + _RELEASE_WAIT
    while True:
        if os.path.ismount(workspace):
            return False
        try:
            fcntl.flock(backing, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OSError(errno.EBUSY, "its disk is still mounted elsewhere") from None
            time.sleep(0.005)
            continue
        return not os.path.ismount(workspace)


def in_use() -> Iterator[Path]:
    """The image of every disk attached to a loop device on this machine, mounted in whatever
    namespace (a sandbox's, the host's), " (deleted)" taken off the path of an image deleted
    since."""
    with contextlib.suppress(OSError):
        for entry in os.scandir("/sys/block"):
            if entry.name.startswith("loop"):
                with contextlib.suppress(OSError):
                    with open(f"{entry.path}/loop/backing_file") as found:
                        yield Path(found.read().rstrip("\n").removesuffix(" (deleted)"))


def unmount(workspace: Path, *, flush: bool = True) -> None:
    """Unmount the workspace (its processes were ended before). Without `flush` it is detached
    even while something still uses it (a file the API holds open): a destroy does not wait for
    that; the kernel lets go of the filesystem and its loop device once it is unused."""
    if os.path.ismount(workspace):
        path = str(workspace).encode()
        if not flush or libc().umount2(path, 0) != 0:
            libc().umount2(path, _MNT_DETACH)


def _attach(backing: int) -> tuple[int, int]:
    """A loop device showing the open image `backing`: its number and a descriptor of it."""
    for _ in range(10):  # another process may take the free device first
        control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
        try:
            number = fcntl.ioctl(control, _LOOP_CTL_GET_FREE)
        finally:
            os.close(control)
        device = os.open(f"/dev/loop{number}", os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.ioctl(device, _LOOP_CONFIGURE, _LOOP_CONFIG.pack(backing, 0,
                                                                   _LO_FLAGS_AUTOCLEAR))
            return number, device
        except OSError as exc:
            os.close(device)
            if exc.errno != errno.EBUSY:
                raise
    raise OSError(errno.EBUSY, "no free loop device")


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env={"PATH": _PATH})
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise OSError(f"{argv[0]} failed: {lines[-1] if lines else done.returncode}")
