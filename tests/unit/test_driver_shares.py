"""Compute-driver calls shared fairly between organizations (issue 14 item 4): one organization
queues behind itself, another still gets its turn, and a call that waits too long is 503
DRIVER_BUSY with retry_after."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from hostplane import errors
from hostplane.api.fairness import DriverShares


def test_a_busy_organization_queues_behind_itself():
    shares = DriverShares(total=4, per_organization=2, wait_seconds=0.3)
    release = threading.Event()

    async def scenario() -> tuple[float, str]:
        async with anyio.create_task_group() as group:
            for _ in range(2):  # organization a fills its share with slow calls
                group.start_soon(shares.run, "a", lambda: release.wait(5))
            await anyio.sleep(0.05)
            started = time.monotonic()
            other = await shares.run("b", lambda: "b ran")  # b is not behind a's calls
            waited = time.monotonic() - started
            with pytest.raises(errors.Unavailable) as busy:  # a's third waits, then gives up
                await shares.run("a", lambda: "never")
            release.set()
        assert busy.value.code == "DRIVER_BUSY" and busy.value.retry_after is not None
        return waited, other

    waited, other = anyio.run(scenario)
    assert other == "b ran" and waited < 0.2
