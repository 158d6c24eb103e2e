"""CDS Hooks 2.0 service: discovery, ``order-select`` / ``order-sign`` and feedback (Flask blueprint ``bp``).

- ``GET  /cds-services``                discovery (prefetch templates use only 2.0 tokens)
- ``POST /cds-services/<id>``           validate the envelope (our JSON Schema), evaluate the spine
                                        ServiceRequests of ``draftOrders`` (order-select: the selected
                                        ones), answer cards + ``systemActions``
- ``POST /cds-services/<id>/feedback``  validate and store feedback, idempotent on repeats

CORS is a few explicit headers (no flask-cors): any origin by default (``CDS_CORS_ORIGINS``), the
preflight needs no JWT. Authentication is delegated to ``app.extensions["spine_auc.cds_auth"]`` when
configured; results go to ``app.extensions["spine_auc.store"]`` before the response is sent.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.cds import cards as cds_cards
from app.cds.prefetch import (
    LruCache,
    RecordCache,
    build_record,
    default_fetcher,
    discovery_prefetch,
    read_prefetch,
)
from app.cds.questions import question_link, stored_answers, with_stored_answers
from app.clinical.assessment import PatientRecord, assess_order
from app.clinical.not_rated import not_rated, with_data_issues
from app.clinical.orders import OrderedProcedure, resolve_studies
from app.clinical.result import CardLink, Result
from app.clinical.vocabulary import Status
from app.criteria.schemas import SchemaSet
from app.errors import InvalidInput, NotFound, SpineAucError
from app.fhir.input import checked_orders
from app.metrics import count_outcomes
from app.web.body import read_json_body
from app.web.limits import (
    TIME_BUDGET_REACHED,
    EvaluationBudget,
    check_order_count,
    clip_input,
    input_limits,
    max_medication_reads,
    max_prefetch_resources,
    within_budget,
)

log = logging.getLogger("spine_auc.cds.service")

bp = Blueprint("cds_hooks", __name__)

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
ORDER_TYPES = frozenset({"ServiceRequest"})


#: The ACR topics the services rate against, as the discovery document names them (criteria/manifest.json).
TOPICS_SAID = (
    "Low Back Pain, Thoracic Back Pain, Myelopathy, Suspected Spine Trauma, Back Pain—Child, "
    "Suspected Spine Trauma—Child"
)


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str


SERVICES: dict[str, Service] = {
    s.id: s
    for s in (
        Service(
            "spine-auc-order-select",
            "order-select",
            "Spine imaging appropriateness (order selection)",
            "Rates selected spine imaging orders (MRI, CT, radiography, myelography of the spine) against the "
            f"ACR Appropriateness Criteria ({TOPICS_SAID}) from the patient's record, suggests better studies "
            "and attaches the Argonaut PAMA rating to the draft order.",
        ),
        Service(
            "spine-auc-order-sign",
            "order-sign",
            "Spine imaging appropriateness (order signing)",
            f"Rates every spine imaging order being signed against the ACR Appropriateness Criteria ({TOPICS_SAID}) "
            "and attaches the Argonaut PAMA rating to the order.",
        ),
    )
}

REQUEST_SCHEMA = "cds-hook-request.schema.json"
FEEDBACK_SCHEMA = "cds-feedback.schema.json"


@functools.cache
def _schemas() -> SchemaSet:
    """Our CDS Hooks envelope schemas (``app.criteria.schemas`` is the only jsonschema importer), loaded on
    first use, not at import, and kept for the process."""
    return SchemaSet(SCHEMA_DIR, compiled=True)


_memory_lock = threading.Lock()


def _cfg(key: str, default: Any) -> Any:
    return current_app.config.get(key, default)


@bp.record_once
def _init_caches(state: Any) -> None:
    """One record cache and one result cache per app, created when the blueprint is registered."""
    config = state.app.config
    state.app.extensions["spine_auc.cds_record_cache"] = RecordCache(
        int(config.get("CDS_RECORD_CACHE_SIZE", 256))
    )
    state.app.extensions["spine_auc.cds_result_cache"] = LruCache[Result](
        int(config.get("CDS_RESULT_CACHE_SIZE", 1024))
    )


def _record_cache() -> RecordCache:
    cache: RecordCache = current_app.extensions["spine_auc.cds_record_cache"]
    return cache


def _result_cache() -> LruCache[Result]:
    cache: LruCache[Result] = current_app.extensions["spine_auc.cds_result_cache"]
    return cache


def schema_problems(schema_name: str, instance: Any) -> list[tuple[str, str]]:
    """(JSON path, message) for every way ``instance`` breaks one of our CDS Hooks schemas."""
    return _schemas().problems(schema_name, instance)


def _validate(schema_name: str, instance: Any, what: str) -> None:
    """Raise InvalidInput listing (up to five) schema errors with their JSON paths."""
    problems = schema_problems(schema_name, instance)
    if problems:
        raise InvalidInput(
            f"invalid {what}: " + "; ".join(f"{path}: {msg}" for path, msg in problems[:5]),
            expression=[path for path, _ in problems[:5]],
        )


def _public_url() -> str:
    base = _cfg("PUBLIC_BASE_URL", None)
    if base:
        return str(base).rstrip("/") + request.path
    return request.base_url


# -- CORS and authentication -------------------------------------------------------------------------


@bp.before_request
def _authenticate() -> ResponseReturnValue | None:
    if request.method == "OPTIONS":
        return Response(status=204)  # preflight: no JWT (CORS headers are added below)
    g.cds_caller = None
    auth = current_app.extensions.get("spine_auc.cds_auth")
    if auth is not None:
        g.cds_caller = auth.authenticate(
            request.headers.get("Authorization"), audience_url=_public_url(), remote_addr=request.remote_addr
        )
    return None


@bp.after_request
def _cors(response: Response) -> Response:
    origins = _cfg("CDS_CORS_ORIGINS", "*")
    origin = request.headers.get("Origin")
    if origins == "*" or origins == ["*"]:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and isinstance(origins, list | tuple) and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.add("Vary", "Origin")
    else:
        return response
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Accept"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _caller_attr(name: str) -> str | None:
    value = getattr(g.get("cds_caller"), name, None)
    return value if isinstance(value, str) else None


# -- discovery ---------------------------------------------------------------------------------------


@bp.get("/cds-services")
def discovery() -> ResponseReturnValue:
    prefetch = discovery_prefetch()
    services = [
        {
            "hook": s.hook,
            "id": s.id,
            "title": s.title,
            "description": s.description,
            "prefetch": prefetch,
            "usageRequirements": "Send draft ServiceRequests coded with CPT (or LOINC/SNOMED CT) and their "
            "reasonCode; without prefetch the service reads the patient from fhirServer.",
        }
        for s in SERVICES.values()
    ]
    return jsonify({"services": services})


# -- service call ------------------------------------------------------------------------------------


def _draft_orders(context: dict[str, Any], hook: str) -> list[dict[str, Any]]:
    """The ServiceRequests to evaluate: all of draftOrders (order-sign) or the selected ones (order-select)."""
    bundle = context["draftOrders"]
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    orders = [
        e["resource"]
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and isinstance(e["resource"].get("resourceType"), str)
        and e["resource"]["resourceType"] in ORDER_TYPES
    ]
    if hook != "order-select":
        return orders
    selected = {s for s in context.get("selections") or [] if isinstance(s, str)}
    return [o for o in orders if f"{o.get('resourceType')}/{o.get('id')}" in selected]


def is_empty_selection(order: dict[str, Any]) -> bool:
    """A draft order that names nothing yet (no code in any coding, no text): the sandbox's first call
    sends ``code.coding: [{}]``. There is nothing to rate and nothing to audit."""
    code = order.get("code")
    if not isinstance(code, dict):
        return True
    text = code.get("text")
    codings = code.get("coding")
    coded = isinstance(codings, list) and any(
        isinstance(c, dict) and isinstance(c.get("code"), str) and c["code"].strip() for c in codings
    )
    return not coded and not (isinstance(text, str) and text.strip())


Pair = tuple[Result, dict[str, Any]]  # (result, order)
Readable = tuple[dict[str, Any], OrderedProcedure]  # (order, its procedure)


def _readable_orders(orders: list[dict[str, Any]], criteria: Any) -> list[Readable]:
    """Each order validated (valid R4) and resolved once; an unreadable one is skipped (no card, no 400)."""
    readable: list[Readable] = []
    for order in orders:
        try:
            checked_orders([order])
        except InvalidInput as err:
            log.info("draft order %s skipped: %s", order.get("id"), err.message)
            continue
        readable += [(order, study) for study in resolve_studies(order, criteria)]  # one per study (§1.3)
    return readable


def _may_be_spine(ordered: OrderedProcedure, criteria: Any) -> bool:
    """From the order alone: a catalogue procedure whose ``spineImaging`` is ``yes`` or ``if-spine-reason``."""
    return any(
        criteria.procedures[p].spine_imaging in {"yes", "if-spine-reason"}
        for p in ordered.candidates
        if p in criteria.procedures
    )


def _evaluate_cached(
    orders: list[Readable],
    record: PatientRecord,
    criteria: Any,
    record_key: str | None,
    budget: EvaluationBudget | None = None,
) -> list[Pair]:
    """Evaluate, reusing the result of an identical (prefetch, order, criteria version, day) seen before.

    Only records built from prefetch alone have a key (fetched data is always evaluated afresh). A reused
    result gets a fresh consultation id: every call is its own consultation in the audit trail.
    """
    budget = budget or EvaluationBudget()
    if record_key is None:
        results = within_budget(
            orders,
            lambda item: item[0],
            lambda item: assess_order(item[0], record, criteria, ordered=item[1]),
            criteria,
            budget,
        )
        return [(result, order) for result, (order, _ordered) in zip(results, orders, strict=True)]
    cache = _result_cache()
    day = datetime.now(UTC).date().isoformat()
    pairs: list[Pair] = []
    for order, ordered in orders:
        canonical = json.dumps(order, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        key = hashlib.sha256(
            "|".join(
                (
                    record_key,
                    str(getattr(criteria, "version", "")),
                    day,
                    canonical,
                    ",".join(ordered.candidates),
                )
            ).encode("utf-8", "surrogatepass")
        ).hexdigest()
        if budget.spent():
            pairs.append((not_rated(order, criteria, TIME_BUDGET_REACHED), order))
            continue
        cached = cache.get(key)
        if cached is not None:
            pairs.append((cached.with_consultation_id(f"urn:uuid:{uuid.uuid4()}"), order))
            continue
        result = assess_order(order, record, criteria, ordered=ordered)
        cache.put(key, result)
        pairs.append((result, order))
    return pairs


def _with_draft_answers(record: PatientRecord, context: dict[str, Any]) -> PatientRecord:
    """QuestionnaireResponses sent with the draft orders count as the clinician's answers."""
    entries = context["draftOrders"].get("entry")
    responses = [
        e["resource"]
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == "QuestionnaireResponse"
    ]
    for response in responses:
        record = with_stored_answers(record, response)
    return record


def _evaluate_answered(
    orders: list[Readable], record: PatientRecord, criteria: Any, record_key: str | None, patient_id: str
) -> list[Pair]:
    """Evaluate; an order answered on the question page (same order and patient) gets its answers.

    One evaluation budget for the whole request: orders it does not reach are "not rated"."""
    pairs: list[Pair] = []
    budget = EvaluationBudget()
    for order, ordered in orders:
        answers = stored_answers(patient_id, order)
        if answers is None:
            key = record_key if not record.answers else None
            pairs += _evaluate_cached([(order, ordered)], record, criteria, key, budget)
        elif budget.spent():
            pairs.append((not_rated(order, criteria, TIME_BUDGET_REACHED), order))
        else:
            answered = with_stored_answers(record, answers)
            pairs.append((assess_order(order, answered, criteria, ordered=ordered), order))
    return pairs


def _link_questions(
    pairs: list[Pair], cards: list[dict[str, Any] | None], record: PatientRecord, patient_id: str
) -> None:
    """Each insufficient-data card links to the page that asks its questions."""
    for (result, order), card in zip(pairs, cards, strict=True):
        if card is None or result.status is not Status.INSUFFICIENT_DATA:
            continue
        link = question_link(result, order, record, patient_id)
        if link is not None:
            card.setdefault("links", []).append(link)


def _with_card_link(result: Result, card: dict[str, Any] | None) -> Result:
    """The result as recorded: with its card's uuid (and its suggestions'), so feedback ties to a consultation."""
    if card is None:
        return result
    return result.with_card(CardLink(card["uuid"], tuple(s["uuid"] for s in card.get("suggestions", []))))


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> ResponseReturnValue:
    started = time.perf_counter()
    service = SERVICES.get(service_id)
    if service is None:
        raise NotFound(f"no CDS service {service_id!r}; see GET /cds-services")
    body = read_json_body(request, int(_cfg("MAX_BODY_BYTES", 5 * 1024 * 1024)))
    _validate(REQUEST_SCHEMA, body, "CDS Hooks request")
    notes = clip_input(body)
    if body["hook"] != service.hook:
        raise InvalidInput(
            f"hook {body['hook']!r} does not match service {service.id!r} (hook {service.hook!r})",
            expression=["hook"],
        )
    context = body["context"]
    patient_id: str = context["patientId"]
    criteria = current_app.extensions["spine_auc.criteria"]
    prefetch = read_prefetch(body.get("prefetch"), max_resources=max_prefetch_resources())
    drafts = [order for order in _draft_orders(context, service.hook) if not is_empty_selection(order)]
    check_order_count(len(drafts), "context.draftOrders")
    orders = _readable_orders(drafts, criteria)
    if prefetch.to_fetch:
        # Data would have to be fetched: first drop orders that are not spine imaging (routing needs only the
        # order), so a call with nothing to rate never touches the FHIR server and never gets a 412.
        orders = [(order, ordered) for order, ordered in orders if _may_be_spine(ordered, criteria)]
    if not orders:
        return jsonify({"cards": []})  # nothing to rate: no patient data needed, no 412

    fetch = None
    fhir_server = body.get("fhirServer")
    if fhir_server:
        auth = current_app.extensions.get("spine_auc.cds_auth")
        if auth is not None:
            auth.check_fhir_server(g.get("cds_caller"), fhir_server)
        token = (body.get("fhirAuthorization") or {}).get("access_token")
        fetch = default_fetcher(
            fhir_server,
            token if isinstance(token, str) else None,
            deadline_seconds=float(_cfg("FHIR_DEADLINE_SECONDS", 8.0)),
            timeout_seconds=float(_cfg("FHIR_TIMEOUT_SECONDS", 5.0)),
            page_cap=int(_cfg("FHIR_PAGE_CAP", 50)),
            max_medication_reads=max_medication_reads(),
            limits=input_limits(),
        )
    record, info = build_record(
        patient_id, body.get("prefetch"), fetch=fetch, cache=_record_cache(), outcome=prefetch
    )
    record = _with_draft_answers(record, context)
    pairs = [
        (with_data_issues(result, notes), order)
        for result, order in _evaluate_answered(orders, record, criteria, info["key"], patient_id)
    ]
    label = str(_cfg("CDS_SOURCE_LABEL", "spine-auc (ACR Appropriateness Criteria)"))
    cards = [
        cds_cards.card_for(result, order, default_source_label=label, criteria=criteria)
        for result, order in pairs
    ]
    _link_questions(pairs, cards, record, patient_id)
    response = cds_cards.build_response(
        pairs, cards, legacy_system_actions=bool(_cfg("CDS_LEGACY_SYSTEM_ACTIONS", True))
    )
    recorded = [_with_card_link(result, card) for (result, _order), card in zip(pairs, cards, strict=True)]
    latency_ms = (time.perf_counter() - started) * 1000.0
    store = current_app.extensions.get("spine_auc.store")
    if store is not None:
        store.record_consultations(
            recorded,
            hook_instance=body["hookInstance"],
            request_id=None,
            caller_iss=_caller_attr("iss"),
            tenant=_caller_attr("tenant"),
            patient=patient_id,
            latency_ms=latency_ms,
        )
    count_outcomes(recorded)
    log.info(
        "cds %s hookInstance=%s orders=%d cards=%d data=%s criteria=%s consultations=%s %.1fms",
        service.id,
        body["hookInstance"],
        len(pairs),
        len(response["cards"]),
        info["source"],
        getattr(criteria, "version", "?"),
        ",".join(r.consultation_id for r in recorded),
        latency_ms,
    )
    return jsonify(response)


# -- feedback ----------------------------------------------------------------------------------------


def _feedback_key(service_id: str, item: dict[str, Any]) -> str:
    return json.dumps({"service": service_id, "item": item}, sort_keys=True, separators=(",", ":"))


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> ResponseReturnValue:
    if service_id not in SERVICES:
        raise NotFound(f"no CDS service {service_id!r}; see GET /cds-services")
    body = read_json_body(request, int(_cfg("MAX_BODY_BYTES", 5 * 1024 * 1024)))
    _validate(FEEDBACK_SCHEMA, body, "CDS Hooks feedback")
    store = current_app.extensions.get("spine_auc.store")
    stored = duplicates = 0
    for item in body["feedback"]:
        if store is not None:
            new = bool(store.record_feedback(service_id, item, caller_iss=_caller_attr("iss")))
        else:
            memory: dict[str, dict[str, Any]] = current_app.extensions.setdefault(
                "spine_auc.cds_feedback", {}
            )
            key = _feedback_key(service_id, item)
            with _memory_lock:
                new = key not in memory
                memory.setdefault(key, dict(item))
        stored += int(new)
        duplicates += int(not new)
    return jsonify({"stored": stored, "duplicates": duplicates})


def feedback_memory(app: Any) -> list[dict[str, Any]]:
    """The in-memory feedback (only used when no store is configured)."""
    return list(app.extensions.get("spine_auc.cds_feedback", {}).values())


__all__ = ["SERVICES", "SpineAucError", "bp", "feedback_memory"]
