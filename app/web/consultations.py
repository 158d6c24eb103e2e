"""``GET /api/v1/consultations/<id>`` and ``GET /api/v1/consultations?patient=&order=&limit=&cursor=``.

Both need scope ``system/spine-auc.consultations.read`` and see only the caller's tenant.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.errors import InvalidInput, NotFound
from app.security.api_auth import SCOPE_CONSULTATIONS_READ
from app.store.consultations import ConsultationStore
from app.web.access import require_scope, tenant_scope

bp = Blueprint("consultations", __name__, url_prefix="/api/v1/consultations")


def _store() -> ConsultationStore:
    store: ConsultationStore = current_app.extensions["spine_auc.store"]
    return store


@bp.get("/<path:consultation_id>")
@require_scope(SCOPE_CONSULTATIONS_READ)
def get_consultation(consultation_id: str) -> ResponseReturnValue:
    tenant = tenant_scope()
    found = _store().get_consultation(consultation_id, tenant_scope=tenant)
    if found is None and not consultation_id.startswith("urn:uuid:"):
        found = _store().get_consultation("urn:uuid:" + consultation_id, tenant_scope=tenant)
    if found is None:
        raise NotFound(f"no consultation {consultation_id}")
    return jsonify(found)


@bp.get("")
@require_scope(SCOPE_CONSULTATIONS_READ)
def list_consultations() -> ResponseReturnValue:
    patient = request.args.get("patient") or None
    order = request.args.get("order") or None
    if patient is None and order is None:
        raise InvalidInput("give 'patient' or 'order'", expression=["patient"])
    raw_limit = request.args.get("limit", "50")
    try:
        limit = int(raw_limit)
    except ValueError as exc:
        raise InvalidInput("limit must be an integer", expression=["limit"]) from exc
    items, next_cursor = _store().list_consultations(
        patient=patient,
        order=order,
        limit=limit,
        cursor=request.args.get("cursor") or None,
        tenant_scope=tenant_scope(),
    )
    return jsonify({"consultations": items, "next": next_cursor})
