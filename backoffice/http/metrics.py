"""Prometheus metrics of one app, in a registry of its own (not the library's global one:
tests and several apps in one process never share counters).

Aggregates only: no label names a merchant, a webhook, a token or a raw path (requests
are labelled by route template, e.g. ``/v1/webhooks/{webhook_id}``), so ``/metrics``
needs no token and tells a scraper nothing about any one merchant.

    webhooks_http_request_duration_seconds{method,route,status}   histogram
    webhooks_deliveries_due                                       gauge (read at scrape)
    webhooks_deliveries_oldest_due_age_seconds                    gauge (read at scrape)
    webhooks_webhooks                                             gauge (read at scrape)
    webhooks_delivery_attempts_total{outcome,test}                counter, since start
    webhooks_delivery_failures_total{answer}                      counter, since start
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import Scope

from backoffice.db import ops_queries
from backoffice.facade import Backoffice
from contract.times import iso_millis, parse_moment

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED: Final = "unmatched"  # a path no route serves (404): never the path itself


class BackofficeCollector(Collector):
    """The delivery queue and the webhooks, read from the database at each scrape, and
    the outcomes this process committed since it started."""

    def __init__(self, office: Backoffice) -> None:
        self.office = office

    def collect(self) -> Iterator[Metric]:
        office = self.office
        now = office.deliveries.clock()
        with office.db.read() as conn:
            queue = ops_queries.queue(conn, iso_millis(now))
            webhooks = ops_queries.webhook_count(conn)
        age = 0.0
        if queue.oldest_due_at is not None:
            age = max(0.0, (now - parse_moment(queue.oldest_due_at)).total_seconds())
        yield GaugeMetricFamily("webhooks_deliveries_due",
                                "Deliveries due now, waiting or being attempted.",
                                value=queue.due)
        yield GaugeMetricFamily("webhooks_deliveries_oldest_due_age_seconds",
                                "How long the longest-due delivery has been due (0: none).",
                                value=age)
        yield GaugeMetricFamily("webhooks_webhooks", "Webhooks, all merchants together.",
                                value=webhooks)
        attempts, failures = office.deliveries.tally.counts()
        family = CounterMetricFamily(
            "webhooks_delivery_attempts",
            "Attempts this process recorded since it started, by the state they left the "
            "delivery in (delivered; failed: a retry is due; gave_up), test-fires apart.",
            labels=["outcome", "test"])
        for outcome in ("delivered", "failed", "gave_up"):
            for test in (False, True):
                family.add_metric([outcome, str(test).lower()], attempts.get((outcome, test), 0))
        yield family
        failed = CounterMetricFamily(
            "webhooks_delivery_failures",
            "Failed attempts this process recorded since it started, by the receiver's "
            "answer (none: no HTTP answer, e.g. refused, timed out; 2xx: not acknowledged).",
            labels=["answer"])
        for answer in ("none", "1xx", "2xx", "3xx", "4xx", "5xx"):
            failed.add_metric([answer], failures.get(answer, 0))
        yield failed


class Metrics:
    """One app's registry: the request histogram and the backoffice's collector."""

    def __init__(self, office: Backoffice) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "webhooks_http_request_duration_seconds",
            "Time to answer a request, by method, route template and status.",
            ["method", "route", "status"], registry=self.registry)
        self.registry.register(BackofficeCollector(office))

    def observe_request(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request (a ``RequestTimingMiddleware`` observer)."""
        method = scope["method"] if scope["method"] in METHODS else "other"
        self.requests.labels(method, route_of(scope), str(status)).observe(seconds)


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED

