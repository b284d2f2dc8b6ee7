"""Bursts of concurrent writes: more requests than worker threads and pooled connections, on both
databases. Each must finish, with the right answers (a review once deadlocked this)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.factories import unique


def burst(org, bodies, workers=100):
    def post(body):
        with httpx.Client(base_url=str(org.client.base_url), headers=org.client.headers,
                          timeout=60) as client:
            return client.post("/api/v1/workspaces", json=body)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        responses = list(pool.map(post, bodies))
    return responses, time.monotonic() - started


def test_a_hundred_concurrent_creates_all_succeed(org):
    responses, took = burst(org, [{"name": unique("Burst")} for _ in range(100)])
    assert [r.status_code for r in responses] == [201] * 100, {r.status_code for r in responses}
    assert took < 45, f"took {took:.1f} s"
    assert org.get("/api/v1/workspaces").json()["meta"]["total"] == 100


def test_a_retry_storm_on_one_external_id_creates_one_workspace(org):
    ext = unique("storm")
    responses, _took = burst(org, [{"name": "Storm", "external_workspace_id": ext}] * 60, 60)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 59 + [201], codes
    assert len({r.json()["id"] for r in responses}) == 1


def test_same_name_creates_with_different_slugs_make_one_workspace(org):
    name = unique("Ärzte Haus")
    bodies = [{"name": name, "slug": f"slug-{i}"} for i in range(8)]
    responses, _took = burst(org, bodies, 8)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7, codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "WORKSPACE_NAME_EXISTS"}


def test_an_invalidated_sqlite_writer_releases_the_write_lock(container, backend):
    import pytest
    from sqlalchemy import text

    if backend != "sqlite":
        pytest.skip("the in-process writer lock is SQLite's")
    session = container.database.session()
    session.execute(text("SELECT 1"))
    session.connection().invalidate()
    from sqlalchemy.exc import PendingRollbackError

    with pytest.raises(PendingRollbackError):
        session.rollback()  # SQLAlchemy insists the invalid transaction is rolled back
    session.close()
    started = time.monotonic()
    with container.database.transaction() as again:
        again.execute(text("SELECT 1"))
    assert time.monotonic() - started < 1
