"""How big one sandbox or database may be: CPUs, memory and disk bounded by this host (or by the
operator's HOSTPLANE_SANDBOX_MAX_* settings), so every limit written into a cgroup is a real one;
and the storage quota of one organization."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hostplane import errors
from hostplane.settings import Settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class Capacity:
    max_cpu_count: int
    max_memory_mb: int
    max_disk_mb: int
    storage_quota_mb: int  # what one organization may hold in all (resources/storage.py)

    @classmethod
    def of_host(cls, settings: Settings) -> Capacity:
        """The settings' bounds, or what this host has where they are empty (read once)."""
        cores = len(os.sched_getaffinity(0))
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MIB
        return cls(
            max_cpu_count=settings.sandbox_max_cpu_count or cores,
            max_memory_mb=settings.sandbox_max_memory_mb
            or max(128, memory - settings.host_memory_reserve_mb),
            max_disk_mb=settings.sandbox_max_disk_mb
            or shutil.disk_usage(_existing(settings.data_dir)).total // MIB,
            storage_quota_mb=settings.storage_quota_mb,
        )

    def fit(self, cpu_count: int, memory_mb: int, disk_mb: int) -> tuple[int, int, int]:
        """A default shape made to fit: never more than the bounds."""
        return (min(cpu_count, self.max_cpu_count), min(memory_mb, self.max_memory_mb),
                min(disk_mb, self.max_disk_mb))

    def check(self, field: str, value: int | None, *, size: str | None = None) -> None:
        """422 RESOURCE_LIMIT_EXCEEDED if `value` of `field` (cpu_count, memory_mb, or a disk
        field) is over its bound; `size` names the tier the value came from, if it did."""
        bound, unit = {"cpu_count": (self.max_cpu_count, "CPUs"),
                       "memory_mb": (self.max_memory_mb, "MB")}.get(field, (self.max_disk_mb, "MB"))
        if value is None or value <= bound:
            return
        asked = f"size {size!r} ({field} {value})" if size else f"{field} {value}"
        raise errors.Invalid(
            f"{asked} is more than this platform offers: at most {bound} {unit}.",
            code="RESOURCE_LIMIT_EXCEEDED", field="size" if size else field,
            rule=f"{field} at most {bound}",
            fix=(f"Choose a smaller size, or give {field} {bound} or less" if size else
                 f"Ask for {field} {bound} or less") + "; the platform's operator sets this bound.",
            details={"limit": field, "maximum": bound, "requested": value})


def _existing(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return path
