"""Bounds on what one sandbox or database may ask for (issue 14 item 5): CPUs, memory and disk
no more than this host has (or the operator's settings say), refused with a 422 that names the
limit; the default shape fits any host."""

from __future__ import annotations

import dataclasses
import os
import shutil

from tests.api.test_sandboxes import create, error_of

SANDBOXES = "/api/v1/sandboxes"
CORES = len(os.sched_getaffinity(0))
MEMORY_MB = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def test_the_probes_shape_is_refused_naming_the_limit(org, container):
    err = error_of(org.post(SANDBOXES, {"memory_mb": 262144, "cpu_count": 64}), 422,
                   "RESOURCE_LIMIT_EXCEEDED")
    assert err["details"]["field"] == "cpu_count"
    assert err["details"]["maximum"] == container.capacity.max_cpu_count == CORES
    assert str(CORES) in err["message"] and "fix" in err["details"]
    err = error_of(org.post(SANDBOXES, {"memory_mb": MEMORY_MB + 1, "cpu_count": 1}), 422,
                   "RESOURCE_LIMIT_EXCEEDED")
    assert err["details"]["field"] == "memory_mb"
    assert err["details"]["maximum"] == MEMORY_MB - container.settings.host_memory_reserve_mb
    disk = shutil.disk_usage(container.settings.data_dir).total // 2**20
    if disk < 1048576:  # else the request's own limit (1 TiB) comes first
        err = error_of(org.post(SANDBOXES, {"disk_mb": disk + 1}), 422,
                       "RESOURCE_LIMIT_EXCEEDED")
        assert err["details"]["field"] == "disk_mb" and err["details"]["maximum"] == disk
    # Nothing was made; what fits is, and the default shape fits the host.
    assert org.get(SANDBOXES).json()["data"] == []
    made = create(org, cpu_count=CORES, memory_mb=256)
    assert (made["cpu_count"], made["memory_mb"], made["size"]) == (CORES, 256, None)
    default = create(org)
    assert default["cpu_count"] <= CORES and default["memory_mb"] <= MEMORY_MB


def test_a_size_tier_bigger_than_the_bound_names_the_size(org, container, monkeypatch):
    # As HOSTPLANE_SANDBOX_MAX_CPU_COUNT=4 would have it, whatever this host has.
    monkeypatch.setattr(container, "capacity",
                        dataclasses.replace(container.capacity, max_cpu_count=4))
    err = error_of(org.post(SANDBOXES, {"size": "xl"}), 422, "RESOURCE_LIMIT_EXCEEDED")
    assert err["details"]["field"] == "size" and err["details"]["requested"] == 16
    assert err["details"]["maximum"] == 4 and "smaller size" in err["details"]["fix"]
    assert create(org, size="xs")["size"] == "xs"


def test_database_shapes_are_bounded_too(org):
    err = error_of(org.post("/api/v1/databases", {"engine": "sqlite", "cpu_count": 64}), 422,
                   "RESOURCE_LIMIT_EXCEEDED")
    assert err["details"]["field"] == "cpu_count"
    made = org.post("/api/v1/databases", {"engine": "sqlite", "cpu_count": 1, "memory_mb": 256})
    assert made.status_code == 201, made.text
