"""Prometheus metrics of one process: API requests by route and status with their latencies,
edge traffic (requests and response bytes) by organization and status class, and, read from the
database when scraped, sandboxes by state, domain re-check lag and the webhook backlog. Served at
GET /metrics to the networks in HOSTPLANE_METRICS_ALLOW only: by the API, and by the edge when
asked by address (http://127.0.0.1:8000/metrics), not by a tenant's hostname.

Counters are per process (each `hostplane api` and `hostplane edge` process counts what it
served; `hostplane serve` counts both): scrape every process and sum in Prometheus. The figures
read from the database are the same in every process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

if TYPE_CHECKING:
    from hostplane.api.container import Container

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Each container has its own registry (nothing is registered at import time)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("http_requests", "API requests answered",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "API request latency",
                                 ("method", "route"), buckets=BUCKETS, registry=self.registry)

        self.edge = EdgeTraffic()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def watch(self, container: Container) -> None:
        """Add the figures read from the database at each scrape."""
        self.registry.register(_Platform(container))


class EdgeTraffic:
    """What the edge served, by organization id and status class: plain numbers bumped on the
    edge's event loop (no lock, no label lookup on the hot path); the organization's slug is
    looked up when scraped."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], list[int]] = {}

    def add(self, tenant_id: str | None, status: int, size: int) -> None:
        key = (tenant_id or "", status // 100)
        found = self.counts.get(key)
        if found is None:
            self.counts[key] = [1, size]
        else:
            found[0] += 1
            found[1] += size


class _Platform(Collector):
    def __init__(self, container: Container) -> None:
        self.container = container

    def describe(self) -> list[Any]:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from hostplane.domains.models import CustomDomain, TenantDomain
        from hostplane.events.models import Event
        from hostplane.resources.models import Sandbox
        from hostplane.tenancy.models import Tenant
        from hostplane.webhooks.models import Webhook

        now = self.container.clock.now()
        with self.container.database.transaction(write=False) as session:
            states = session.execute(select(Sandbox.state, func.count())
                                     .where(Sandbox.destroyed_at.is_(None))
                                     .group_by(Sandbox.state)).all()
            due = [session.scalar(select(func.min(model.next_check_at))
                                  .where(model.next_check_at <= now))
                   for model in (CustomDomain, TenantDomain)]
            backlog = session.execute(
                select(func.count(Event.id), func.min(Event.created_at))
                .join(Webhook, (Webhook.tenant_id == Event.tenant_id)
                      & (Event.id > Webhook.cursor))
                .where(Webhook.state == "active")).one()
            disabled = session.scalar(select(func.count()).select_from(Webhook)
                                      .where(Webhook.state == "disabled"))
            traffic = list(self.container.metrics.edge.counts.items())
            ids = {tenant_id for (tenant_id, _), _ in traffic if tenant_id}
            slugs = dict(session.execute(select(Tenant.id, Tenant.slug)
                                         .where(Tenant.id.in_(ids))).all()) if ids else {}
        requests = CounterMetricFamily("edge_requests", "Requests the edge answered, by "
                                       "organization slug ('-': no organization's host) and "
                                       "status class", labels=["organization", "status_class"])
        sent = CounterMetricFamily("edge_response_bytes", "Bytes of the edge's responses",
                                   labels=["organization", "status_class"])
        for (tenant_id, status_class), (count, size) in traffic:
            labels = [slugs.get(tenant_id, tenant_id or "-"), f"{status_class}xx"]
            requests.add_metric(labels, count)
            sent.add_metric(labels, size)
        yield requests
        yield sent
        sandboxes = GaugeMetricFamily("sandboxes", "Sandboxes by state", labels=["state"])
        for state, count in states:
            sandboxes.add_metric([state], count)
        yield sandboxes
        yield GaugeMetricFamily("domain_check_lag_seconds",
                                "How late the most overdue domain re-check is",
                                value=_age(now, [d for d in due if d is not None]))
        yield GaugeMetricFamily("webhook_backlog_events",
                                "Events waiting for active webhooks (per endpoint)",
                                value=backlog[0] or 0)
        yield GaugeMetricFamily("webhook_backlog_age_seconds",
                                "Age of the oldest event an active webhook still waits to get",
                                value=_age(now, [backlog[1]] if backlog[1] else []))
        yield GaugeMetricFamily("webhooks_disabled", "Webhooks disabled after failing",
                                value=disabled or 0)


def _age(now: datetime, moments: list[datetime]) -> float:
    return max((now - min(moments)).total_seconds(), 0.0) if moments else 0.0
