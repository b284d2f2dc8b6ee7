"""Which host uid a sandbox's processes run as: one per sandbox, from the operator's range
(HOSTPLANE_SANDBOX_UID_BASE / _COUNT), which no file on the host belongs to. A host file that is
not world-readable is then out of every sandbox's reach, whatever its mounts come to show.

A sandbox's uid is claimed once, at its first start, by creating `<root>/.uids/<uid>` (O_EXCL: of
two hostplane processes claiming the same uid, one wins and the other tries the next), and kept
in `<home>/uid`, so it is the same across stop, start and API restarts. Destroy gives it back.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from hostplane import errors

UID_FILE = "uid"
_CLAIMS = ".uids"


@dataclass(frozen=True)
class UidRange:
    base: int = 0x70000000  # past systemd's container range (up to 0x6FFFFFFF); see docs
    count: int = 65536

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.base <= uid < self.base + self.count


def read(home: Path) -> int | None:
    try:
        return int((home / UID_FILE).read_text())
    except (OSError, ValueError):
        return None


def claim(root: Path, home: Path, uids: UidRange) -> tuple[int, bool]:
    """The sandbox's uid, and whether it was claimed just now (its files are not its yet)."""
    found = read(home)
    if found is not None and found in uids:
        return found, False
    claims = root / _CLAIMS
    claims.mkdir(mode=0o700, exist_ok=True)
    # Start where the sandbox's id points, so claims spread and rarely have to probe far.
    start = zlib.crc32(home.name.encode()) % uids.count
    for step in range(uids.count):
        uid = uids.base + (start + step) % uids.count
        try:
            fd = os.open(claims / str(uid), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                         0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(home.name + "\n")
        try:
            (home / UID_FILE).write_text(f"{uid}\n")
        except OSError:
            os.unlink(claims / str(uid))  # its home is gone (destroyed meanwhile)
            raise
        return uid, True
    raise errors.Unavailable(
        f"Every sandbox uid of this machine is in use ({uids.count} from {uids.base}).",
        code="SANDBOX_UIDS_EXHAUSTED",
        fix="Destroy sandboxes you no longer need, or ask the operator to raise "
            "HOSTPLANE_SANDBOX_UID_COUNT.")


def release(root: Path, uid: int | None, sandbox_id: str) -> None:
    """Give the uid back once nothing of the sandbox is left (its files removed, its processes
    ended): only then may another sandbox run as it."""
    if uid is None:
        return
    claim_file = root / _CLAIMS / str(uid)
    try:
        if claim_file.read_text().strip() == sandbox_id:
            claim_file.unlink()
    except OSError:
        pass
