"""Prometheus metrics of the service (one place; the web layer exports them at ``GET /metrics``).

Multiprocess-safe under gunicorn: ``spine-auc serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to a private
directory under the data directory (0700, emptied at start) *before* this module is imported, each worker
writes its values there, and ``/metrics`` aggregates every worker's (``MultiProcessCollector``); a dead
worker's live gauges are dropped by gunicorn's ``child_exit`` hook. Without the variable (tests, the
Flask dev server) the process's own registry is exported.

Labels are bounded: routes are URL rules (``/cds-services/<service_id>``), never raw paths; statuses,
topics and categories come from the criteria; refusal reasons are a short fixed vocabulary.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "spine_auc_http_requests_total",
    "HTTP requests answered, by route, method and status",
    ["route", "method", "status"],
)
REQUEST_LATENCY = Histogram(
    "spine_auc_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and status",
    ["route", "status"],
    buckets=LATENCY_BUCKETS,
)
OUTCOMES = Counter(
    "spine_auc_outcomes_total",
    "Consultation results, by status, topic and category",
    ["status", "topic", "category"],
)
FHIR_FETCH_LATENCY = Histogram(
    "spine_auc_fhir_fetch_duration_seconds",
    "Time to fetch one patient record from a FHIR server",
    buckets=LATENCY_BUCKETS,
)
FHIR_FETCH_ERRORS = Counter(
    "spine_auc_fhir_fetch_errors_total",
    "Resource types a FHIR fetch could not obtain, by type and error",
    ["resource_type", "error"],
)
TOKEN_REFUSALS = Counter(
    "spine_auc_token_refusals_total", "Bearer tokens refused, by reason (never the token)", ["reason"]
)
STORE_WRITE_LATENCY = Histogram(
    "spine_auc_store_write_duration_seconds",
    "Time to commit one write to the audit store, by kind",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)


def count_token_refusal(reason: str) -> None:
    """For the authentication code: one refused token (``reason``: a short fixed word, e.g. ``expired``)."""
    TOKEN_REFUSALS.labels(reason=reason[:40]).inc()


def count_outcomes(results: Iterable[Any]) -> None:
    """One count per consultation result (``app.clinical.result.Result``)."""
    for result in results:
        OUTCOMES.labels(
            status=str(result.status),
            topic=result.topic.id if result.topic else "none",
            category=str(result.category) if result.category else "none",
        ).inc()


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        (histogram.labels(**labels) if labels else histogram).observe(time.perf_counter() - started)


def mark_worker_dead(pid: int) -> None:
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric (all workers in multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
