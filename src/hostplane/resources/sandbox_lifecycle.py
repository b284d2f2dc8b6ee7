"""What happens to a sandbox after it is created: stop, start, pause and resume on request; stop
when `timeout_sec` or `idle_timeout_sec` runs out; and, after hostplane or the machine restarts,
records and the machine brought back into agreement (the worker's jobs, below).

States: running ⇄ paused (processes frozen), running/paused → stopped (processes ended, files
kept) → running. The driver is asked first, inside the request's transaction, with the row locked:
a failed driver call leaves the record as it was.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.resources.common import DESTROYED, get_resource
from hostplane.resources.env import Env
from hostplane.resources.models import Computer, Sandbox
from hostplane.resources.sandboxes import WHAT, SandboxView, get_sandbox

if TYPE_CHECKING:
    from hostplane.api.container import Container

log = logging.getLogger("hostplane.worker.sandboxes")
# A sandbox's files with no live record are left alone this long: a create makes the files
# before its record commits.
ORPHAN_GRACE = timedelta(minutes=10)
STOPPABLE = ("running", "paused")


def stop_sandbox(scope: Scope, sandbox_id: str, env: Env) -> SandboxView:
    sandbox = _locked(scope, sandbox_id)
    if sandbox.state in STOPPABLE or sandbox.state == "error":
        env.driver.stop_sandbox(sandbox.id)
        _set(sandbox, "stopped", "stopped on request")
    scope.session.flush()
    return get_sandbox(scope, sandbox.id, env)


def start_sandbox(scope: Scope, sandbox_id: str, env: Env) -> SandboxView:
    sandbox = _locked(scope, sandbox_id)
    if sandbox.state == "paused":
        raise _wrong_state(sandbox, "start", "Resume it (POST /sandboxes/{id}/resume).")
    if sandbox.state != "running":
        status = env.driver.start_sandbox(sandbox.id)
        if not status.running:
            _set(sandbox, "error", status.reason)
        else:
            _set(sandbox, "running", None)
            sandbox.last_started_at = env.now
            sandbox.started_at = sandbox.started_at or env.now
    scope.session.flush()
    return get_sandbox(scope, sandbox.id, env)


def pause_sandbox(scope: Scope, sandbox_id: str, env: Env) -> SandboxView:
    sandbox = _locked(scope, sandbox_id)
    if sandbox.state not in STOPPABLE:
        raise _wrong_state(sandbox, "pause", "Start it first.")
    if sandbox.state == "running":
        env.driver.pause_sandbox(sandbox.id)
        _set(sandbox, "paused", None)
    scope.session.flush()
    return get_sandbox(scope, sandbox.id, env)


def resume_sandbox(scope: Scope, sandbox_id: str, env: Env) -> SandboxView:
    sandbox = _locked(scope, sandbox_id)
    if sandbox.state not in STOPPABLE:
        raise _wrong_state(sandbox, "resume", "Start it (POST /sandboxes/{id}/start).")
    if sandbox.state == "paused":
        env.driver.resume_sandbox(sandbox.id)
        _set(sandbox, "running", None)
    scope.session.flush()
    return get_sandbox(scope, sandbox.id, env)


# The worker's jobs


def enforce_timeouts(container: Container) -> int:
    """Stop running and paused sandboxes whose timeout_sec, or running ones whose
    idle_timeout_sec, has run out; answers how many were stopped."""
    now = container.clock.now()
    driver = container.driver
    assert driver is not None
    with container.database.transaction() as session:
        stmt = select(Sandbox).where(Sandbox.state.in_(STOPPABLE), Sandbox.destroyed_at.is_(None),
                                     (Sandbox.timeout_sec.is_not(None))
                                     | (Sandbox.idle_timeout_sec.is_not(None)))
        due = [s.id for s in session.scalars(stmt)
               if _expired(s, now, driver.last_activity) is not None]
    stopped = 0
    for sandbox_id in due:
        with _row(container, sandbox_id) as sandbox:  # again, locked: a request may have won
            if sandbox is None or sandbox.state not in STOPPABLE:
                continue
            reason = _expired(sandbox, container.clock.now(), driver.last_activity)
            if reason is not None:
                driver.stop_sandbox(sandbox_id)
                _set(sandbox, "stopped", reason)
                log.info("sandbox %s stopped: %s", sandbox_id, reason)
                stopped += 1
    return stopped


def stop_all(container: Container, reason: str) -> list[str]:
    """Stop every running, paused or failed sandbox of this data dir and record why (an
    always_on one too: it stays stopped until started); answers their ids."""
    driver = container.driver
    assert driver is not None
    with container.database.transaction() as session:
        ids = list(session.scalars(select(Sandbox.id).where(
            Sandbox.state.in_((*STOPPABLE, "error")), Sandbox.destroyed_at.is_(None))))
    stopped = []
    for sandbox_id in ids:
        with _row(container, sandbox_id) as sandbox:
            if sandbox is not None and sandbox.state in (*STOPPABLE, "error"):
                driver.stop_sandbox(sandbox_id)
                _set(sandbox, "stopped", reason)
                stopped.append(sandbox_id)
    return stopped


def reconcile_sandboxes(container: Container) -> int:
    """Bring records and this machine into agreement; answers how many changed. A record that
    says running or paused with nothing behind it (the machine restarted, its processes died) is
    marked stopped, or started again if it is running and `always_on`; a stopped record's
    processes are ended; a sandbox this machine holds with no live record (destroyed, or never
    committed) is removed."""
    driver = container.driver
    assert driver is not None
    with container.database.transaction() as session:
        live = {sandbox_id: state for sandbox_id, state in session.execute(
            select(Sandbox.id, Sandbox.state).where(Sandbox.destroyed_at.is_(None)))}
        # A computer's desktop is a sandbox of the driver too (resources/desktop.py).
        computers = set(session.scalars(
            select(Computer.id).where(Computer.destroyed_at.is_(None))))
    changed = 0
    held = driver.sandbox_ids()
    for sandbox_id in held:
        if sandbox_id not in live and sandbox_id not in computers and (
                driver.held_since(sandbox_id) < time.time() - ORPHAN_GRACE.total_seconds()):
            log.info("removing sandbox %s: it has no live record", sandbox_id)
            driver.destroy_sandbox(sandbox_id)
            changed += 1
    for sandbox_id, state in live.items():
        if _disagree(state, driver.sandbox_status(sandbox_id).state):
            changed += _reconcile(container, sandbox_id)
    return changed


def _disagree(recorded: str, actual: str) -> bool:
    return ((recorded in STOPPABLE and actual == "stopped")
            or (recorded in ("stopped", "error") and actual in STOPPABLE))


def _reconcile(container: Container, sandbox_id: str) -> int:
    """One sandbox, with its row locked and both sides read again (a request may have started
    or stopped it since the pass began)."""
    driver = container.driver
    assert driver is not None
    with _row(container, sandbox_id) as sandbox:
        if sandbox is None:
            return 0
        actual = driver.sandbox_status(sandbox_id).state
        if not _disagree(sandbox.state, actual):
            return 0
        if sandbox.state in ("stopped", "error"):
            driver.stop_sandbox(sandbox_id)
            log.info("sandbox %s is %s: its processes were ended", sandbox_id, sandbox.state)
            return 1
        if sandbox.state == "running" and sandbox.always_on:
            if driver.start_sandbox(sandbox_id).running:
                sandbox.last_started_at = container.clock.now()
                log.info("sandbox %s is always_on: started again", sandbox_id)
                return 1
        _set(sandbox, "stopped", "its processes ended (the machine or hostplane restarted, or "
                                 "its main process died); start it again")
        log.info("sandbox %s marked stopped: nothing runs behind it", sandbox_id)
        return 1


@contextlib.contextmanager
def _row(container: Container, sandbox_id: str) -> Iterator[Sandbox | None]:
    """A live sandbox's row, locked until the block ends (and its changes are committed)."""
    with container.database.transaction() as session:
        yield session.scalars(select(Sandbox).where(Sandbox.id == sandbox_id,
                                                    Sandbox.destroyed_at.is_(None))
                              .with_for_update()).first()


def _expired(sandbox: Sandbox, now: datetime,
             last_activity: Callable[[str], float | None]) -> str | None:
    began = sandbox.last_started_at or sandbox.started_at
    if began is None:
        return None
    if sandbox.timeout_sec and now >= began + timedelta(seconds=sandbox.timeout_sec):
        return f"timeout_sec ({sandbox.timeout_sec} s) ran out"
    # A paused sandbox keeps its state: idling is what pausing is for.
    if sandbox.idle_timeout_sec and not sandbox.always_on and sandbox.state == "running":
        active = max(began.timestamp(), last_activity(sandbox.id) or 0.0)
        if now.timestamp() >= active + sandbox.idle_timeout_sec:
            return f"idle_timeout_sec ({sandbox.idle_timeout_sec} s) ran out with no activity"
    return None


def _locked(scope: Scope, sandbox_id: str) -> Sandbox:
    sandbox = get_resource(scope, Sandbox, sandbox_id, WHAT, include_destroyed=True)
    scope.session.refresh(sandbox, with_for_update=True)
    if sandbox.state == DESTROYED:
        raise _wrong_state(sandbox, "change", "Create a new sandbox.")
    return sandbox


def _set(sandbox: Sandbox, state: str, reason: str | None) -> None:
    sandbox.state, sandbox.status_reason = state, reason


def _wrong_state(sandbox: Sandbox, action: str, fix: str) -> errors.Conflict:
    return errors.Conflict(
        f"Sandbox {sandbox.id!r} is {sandbox.state}, so it cannot {action}.",
        code="SANDBOX_STATE_CONFLICT", fix=fix, extra={"state": sandbox.state})
