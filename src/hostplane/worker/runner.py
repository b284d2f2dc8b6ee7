"""The worker loop. Each pass runs every periodic job once; jobs are idempotent and safe to run
from several workers at once (they only delete or update rows that are due)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hostplane.api.container import Container
from hostplane.branding.fetch import fetch_wallpapers
from hostplane.domains.jobs import recheck_domains
from hostplane.events.jobs import prune_events
from hostplane.idempotency.service import purge_expired
from hostplane.resources.sandbox_lifecycle import enforce_timeouts, reconcile_sandboxes
from hostplane.resources.storage import collect_release_files
from hostplane.webhooks.deliver import deliver_due

log = logging.getLogger("hostplane.worker")

Job = Callable[[Container], int]
WEBHOOK_POLL_SECONDS = 1.0


def purge_idempotency_records(container: Container) -> int:
    with container.database.transaction() as session:
        return purge_expired(session, now=container.clock.now())


JOBS: dict[str, Job] = {
    # First: after a restart, records and this machine's sandboxes agree before anything else.
    "reconcile_sandboxes": reconcile_sandboxes,
    "enforce_sandbox_timeouts": enforce_timeouts,
    "purge_idempotency_records": purge_idempotency_records,
    "recheck_domains": recheck_domains,
    "fetch_wallpapers": fetch_wallpapers,
    "collect_release_files": collect_release_files,
    "prune_events": prune_events,
}


@dataclass
class Worker:
    container: Container
    interval_seconds: float = 30.0
    stop: threading.Event = field(default_factory=threading.Event)

    def run_once(self) -> dict[str, int]:
        done: dict[str, int] = {}
        for name, job in JOBS.items():
            try:
                done[name] = job(self.container)
            except Exception:  # one failing job must not stop the others
                log.exception("job %s failed", name)
                done[name] = -1
        return done

    def run_forever(self, grace: float | None = None) -> None:
        """Until `stop` is set; then the webhook pass under way gets `grace` seconds to end."""
        sender = threading.Thread(target=self.send_webhooks, name="hostplane-webhooks",
                                  daemon=True)
        sender.start()
        while not self.stop.is_set():
            self.run_once()
            self.stop.wait(self.interval_seconds)
        sender.join(grace)

    def send_webhooks(self) -> None:
        """Deliveries have their own loop: an event should reach its endpoints within about a
        second, not at the next pass of the periodic jobs."""
        while not self.stop.is_set():
            try:
                deliver_due(self.container)
            except Exception:
                log.exception("webhook deliveries failed")
            self.stop.wait(WEBHOOK_POLL_SECONDS)

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="hostplane-worker", daemon=True)
        thread.start()
        return thread
