"""The per-process key cache: hits cost no query, and every change reaches every process."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event

from hostplane import errors
from hostplane.api.container import Container
from hostplane.db.engine import Database
from hostplane.db.scope import Scope
from hostplane.keys.service import create_key, revoke_key, rotate_key
from hostplane.tenancy.organizations import create_organization
from hostplane.tenancy.principal import Principal
from tests.factories import unique

OWNER = Principal(tenant_id="-", kind="api_key", subject_id="-", scopes=frozenset({"*"}))


@pytest.fixture
def key(container):
    with container.database.transaction() as session:
        tenant = create_organization(session, name=unique("Cache"), email=None,
                                     now=container.clock.now())
        record, secret = create_key(session, tenant_id=tenant.id, name="k")
    return tenant, record, secret


@pytest.fixture
def second_process(settings, clock, backend):
    """Another API process on the same database: its own engine, cache and listener.
    SQLite serves one process (`hostplane serve`), so there is nothing to fan out to."""
    if backend != "postgresql":
        pytest.skip("only PostgreSQL fans key changes out across processes")
    other = Container(settings=settings, clock=clock,
                      database=Database(settings.sqlalchemy_url, pool_size=2))
    other.start()
    yield other
    other.stop()


def count_queries(database: Database):
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute",
                 lambda *args: seen.append(args[2]))
    return seen


def test_a_cached_key_costs_no_query(key, container):
    tenant, _record, secret = key
    auth = container.authenticator
    assert auth.lookup(secret, None).tenant_id == tenant.id
    seen = count_queries(container.database)
    for _ in range(5):
        assert auth.from_cache(secret, tenant.slug).tenant_id == tenant.id
    assert seen == []


def test_revocation_in_one_process_reaches_the_other(key, container, second_process):
    tenant, record, secret = key
    auth = second_process.authenticator
    auth.lookup(secret, None)
    assert auth.from_cache(secret, None) is not None
    with container.database.transaction() as session:
        revoke_key(Scope(session, tenant.id), record.id, now=container.clock.now(), by=OWNER)
    deadline = time.monotonic() + 3.0  # typically milliseconds; generous for a loaded CI
    while auth.from_cache(secret, None) is not None:
        assert time.monotonic() < deadline, "the other process still trusts a revoked key"
        time.sleep(0.005)
    with pytest.raises(errors.Unauthenticated):
        auth.lookup(secret, None)


def test_rotation_forgets_the_old_secret(key, container, second_process):
    tenant, record, secret = key
    second_process.authenticator.lookup(secret, None)
    with container.database.transaction() as session:
        _, new_secret = rotate_key(Scope(session, tenant.id), record.id, by=OWNER)
    assert container.authenticator.from_cache(secret, None) is None
    deadline = time.monotonic() + 3.0  # typically milliseconds; generous for a loaded CI
    while second_process.authenticator.from_cache(secret, None) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert second_process.authenticator.lookup(new_secret, None).subject_id == record.id


def test_a_rolled_back_change_announces_nothing(key, container):
    tenant, record, secret = key
    container.authenticator.lookup(secret, None)
    with pytest.raises(RuntimeError):
        with container.database.transaction() as session:
            revoke_key(Scope(session, tenant.id), record.id, now=container.clock.now(), by=OWNER)
            raise RuntimeError("abort")
    assert container.authenticator.from_cache(secret, None) is not None


def test_cache_entries_expire_with_the_clock(key, container, clock):
    _tenant, _record, secret = key
    container.authenticator.lookup(secret, None)
    assert container.authenticator.from_cache(secret, None) is not None
    clock.advance(container.settings.key_last_used_resolution_seconds + 1)
    assert container.authenticator.from_cache(secret, None) is None


def test_a_lookup_that_raced_a_change_is_not_cached(container):
    from hostplane.keys.cache import CachedKey

    cache = container.key_cache
    read_at = cache.generation  # a lookup reads the key here ...
    cache.invalidate("changed-meanwhile")  # ... a change commits ...
    stale = CachedKey("k", "t", "s", frozenset(), None, container.clock.now())
    cache.put("looked-up", stale, generation=read_at)  # ... and its result must not stick
    assert cache.get("looked-up") is None
    cache.put("looked-up", stale, generation=cache.generation)
    assert cache.get("looked-up") is stale


def test_when_the_listener_is_down_nothing_is_cached(settings, clock, backend):
    if backend != "postgresql":
        pytest.skip("only PostgreSQL fans changes out across processes")
    other = Container(settings=settings, clock=clock,
                      database=Database(settings.sqlalchemy_url, pool_size=1))
    assert other.key_cache.enabled
    other.start()
    assert other.key_cache.enabled  # listening
    other.stop()
    deadline = time.monotonic() + 3
    while other.key_cache.enabled:
        assert time.monotonic() < deadline
        time.sleep(0.05)
