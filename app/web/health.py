"""``GET /healthz``: liveness plus the criteria version the service answers with."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    criteria = current_app.extensions["spine_auc.criteria"]
    return jsonify({"status": "ok", "criteriaVersion": criteria.version, "topics": sorted(criteria.topics)})
