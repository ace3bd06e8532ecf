"""Prometheus metrics of the service, in a registry of its own (two apps in one process do not clash).

=========================================  ==========================================================
metric                                     what it counts
=========================================  ==========================================================
``exectune_serve_requests_total``          requests, by endpoint and HTTP status code
``exectune_serve_request_seconds``         request latency histogram, by endpoint
``exectune_serve_completions_total``       scored completions, by reward status (scored, infra, ...)
``exectune_serve_in_flight``               requests being handled now
``exectune_serve_queued_requests``         requests waiting for a batch (bounded by ``max_queued``)
``exectune_serve_sandbox_queue_rows``      completions waiting for or in the scorer and its sandbox
``exectune_serve_batch_rows``              completions per scored batch (histogram)
``exectune_serve_batch_seconds``           time to score one batch (histogram)
=========================================  ==========================================================

Example:
    >>> m = ServeMetrics()
    >>> m.requests.labels(endpoint="/get_reward", code="200").inc()
    >>> b"exectune_serve_requests_total" in m.render()[0]
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exectune_rl.errors import MissingDependencyError

__all__ = ["ServeMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServeMetrics:
    """The service's counters, gauges and histograms.

    Args:
        queued: Returns the number of waiting requests (read at scrape time).
        sandbox_rows: Returns the completions waiting for or in the scorer (read at scrape time).
    """

    def __init__(self, queued: Callable[[], float] | None = None, sandbox_rows: Callable[[], float] | None = None) -> None:
        try:
            import prometheus_client as prom
        except ImportError as exc:
            raise MissingDependencyError("prometheus-client", "server", "exectune serve's /metrics") from exc
        self._prom = prom
        self.registry = prom.CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = prom.Counter("exectune_serve_requests", "Requests by endpoint and status code", ["endpoint", "code"], registry=r)
        self.latency = prom.Histogram("exectune_serve_request_seconds", "Request latency", ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r)
        self.completions = prom.Counter("exectune_serve_completions", "Scored completions by reward status", ["status"], registry=r)
        self.in_flight = prom.Gauge("exectune_serve_in_flight", "Requests being handled", registry=r)
        queue = prom.Gauge("exectune_serve_queued_requests", "Requests waiting for a batch", registry=r)
        sandbox = prom.Gauge("exectune_serve_sandbox_queue_rows", "Completions waiting for or in the scorer", registry=r)
        if queued is not None:
            queue.set_function(queued)
        if sandbox_rows is not None:
            sandbox.set_function(sandbox_rows)
        self.batch_rows = prom.Histogram("exectune_serve_batch_rows", "Completions per scored batch", buckets=_ROW_BUCKETS, registry=r)
        self.batch_seconds = prom.Histogram("exectune_serve_batch_seconds", "Time to score one batch", buckets=_LATENCY_BUCKETS, registry=r)

    def observe_batch(self, rows: int, seconds: float) -> None:
        self.batch_rows.observe(rows)
        self.batch_seconds.observe(seconds)

    def count_records(self, records: Any) -> None:
        for rec in records:
            self.completions.labels(status=rec.status.value).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST
