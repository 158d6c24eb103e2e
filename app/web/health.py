"""``GET /healthz``: liveness plus the criteria version; ``GET /readyz``: the store answers, criteria loaded."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from app.errors import operation_outcome

log = logging.getLogger("spine_auc.web.health")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    criteria = current_app.extensions["spine_auc.criteria"]
    return jsonify({"status": "ok", "criteriaVersion": criteria.version, "topics": sorted(criteria.topics)})


def _problems() -> list[str]:
    problems = []
    criteria = current_app.extensions.get("spine_auc.criteria")
    if criteria is None or not getattr(criteria, "topics", None):
        problems.append("criteria not loaded")
    store = current_app.extensions.get("spine_auc.store")
    if store is not None:
        try:
            store.ping()
        except Exception as err:  # any failure means "not ready", with the reason logged, never a 500
            log.warning("readiness: the audit store does not answer: %s", type(err).__name__)
            problems.append("audit store unavailable")
    return problems


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 when the audit store answers a cheap query and the criteria are loaded; else 503 OperationOutcome."""
    problems = _problems()
    if problems:
        body = operation_outcome("not ready: " + "; ".join(problems), code="transient")
        return jsonify(body), 503, {"Content-Type": "application/fhir+json", "Retry-After": "5"}
    criteria = current_app.extensions["spine_auc.criteria"]
    return jsonify({"status": "ready", "criteriaVersion": criteria.version})
