"""``GET /metrics`` (Prometheus text format) and the per-request counters (route, method, status, latency)."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request

from app.metrics import REQUEST_LATENCY, REQUESTS, exposition

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, content_type=content_type)


def register(app: Flask) -> None:
    """Count and time every request by its URL rule (bounded labels), including error answers."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        status = str(response.status_code)
        REQUESTS.labels(route=route, method=request.method, status=status).inc()
        if started is not None:
            REQUEST_LATENCY.labels(route=route, status=status).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)
