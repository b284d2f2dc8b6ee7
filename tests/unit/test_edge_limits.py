"""Per-organization limits of one edge process: open requests and a request rate, each
organization on its own."""

from __future__ import annotations

from hostplane.edge.limits import OrgLimits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_open_requests_are_capped_per_organization():
    limits = OrgLimits(max_open=2, per_second=1000, clock=Clock())
    assert limits.admit("a") is None and limits.admit("a") is None
    assert limits.admit("a") == "TOO_MANY_CONNECTIONS"
    assert limits.admit("b") is None  # another organization is not affected
    limits.done("a")
    assert limits.admit("a") is None


def test_the_rate_refills_over_time():
    clock = Clock()
    limits = OrgLimits(max_open=1000, per_second=5, clock=clock)
    admitted = 0
    while limits.admit("a") is None:
        limits.done("a")
        admitted += 1
    assert admitted == 10  # a burst of twice the rate
    assert limits.admit("a") == "RATE_LIMITED" and limits.admit("b") is None
    clock.now += 1.0
    assert limits.admit("a") is None
