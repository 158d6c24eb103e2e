"""REST API and the FHIR ``$appropriateness`` operation.

- ``POST /api/v1/appropriateness``: a Bundle (orders + patient data) or a bare ServiceRequest (patient
  data then fetched from ``FHIR_BASE_URL`` by the order's subject) → ``{"results": [...]}``.
- ``POST /fhir/ServiceRequest/$appropriateness``: the same input (bare, or as the ``request`` parameter
  of a ``Parameters``) → a Bundle of ``GuidanceResponse``.
- ``POST /fhir/ServiceRequest/<id>/$appropriateness``: the order is read from the FHIR server.
- ``GET /openapi.json``: the OpenAPI 3.1 document of these endpoints.

The three POST routes need an API client token with scope ``system/spine-auc.appropriateness``
(``app.web.access``); consultations are recorded under the caller's issuer and tenant.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from app.clinical.assessment import PatientRecord, assess_orders, record_from_resources
from app.clinical.not_rated import not_rated, with_data_issues
from app.clinical.result import Result
from app.errors import InvalidInput, NotFound, SpineAucError, UnsupportedMediaType
from app.fhir.client import FhirClient, client_for
from app.fhir.errors import FhirError, FhirNotFound, service_error
from app.fhir.guidance import guidance_bundle, to_guidance_response
from app.fhir.input import checked_orders, split_input
from app.fhir.models import validate_guidance_response, validate_questionnaire
from app.fhir.record import fetch_record
from app.metrics import count_outcomes
from app.security.api_auth import SCOPE_EVALUATE
from app.web.access import api_client, require_scope
from app.web.body import JSON_MEDIA_TYPES, parse_json_bytes, read_body_bytes, read_json_body
from app.web.limits import (
    TIME_BUDGET_REACHED,
    EvaluationBudget,
    check_order_count,
    clip_input,
    input_limits,
    max_medication_reads,
)
from app.web.openapi import build_openapi

log = logging.getLogger("spine_auc.web.api")

bp = Blueprint("api", __name__)

FHIR_JSON = "application/fhir+json"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_FHIR_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_ACCEPTED_TYPES = ("Bundle", "ServiceRequest")


class ServiceUnavailable(SpineAucError):
    """The consultation could not be recorded; the caller must not act on an unaudited answer."""

    status = 503
    issue_code = "transient"


class GuidanceResponseInvalid(Exception):
    """A GuidanceResponse we built failed R4 validation: our bug, rendered as a generic 500."""


class UnprocessableInput(InvalidInput):
    status = 422
    issue_code = "processing"


@dataclass
class Assessed:
    """One request's orders, assessed: results (one per order, in input order), subjects, timings in ms."""

    results: list[Result]
    subjects: list[str | None]
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Helpers


def _request_id() -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID_RE.match(given) else str(uuid.uuid4())


def _subject_of(order: dict[str, Any]) -> str | None:
    subject = order.get("subject")
    if isinstance(subject, dict) and isinstance(subject.get("reference"), str) and subject["reference"]:
        return str(subject["reference"])
    return None


def _patient_id(reference: str, base_url: str) -> str:
    """``Patient/<id>`` or ``<configured base>/Patient/<id>`` → ``<id>``; anything else is a 400."""
    local = reference
    if re.match(r"^https?://", reference):
        base = base_url.rstrip("/") + "/"
        if not reference.startswith(base):
            raise InvalidInput(
                f"unknown FHIR base in subject {reference!r}: this service fetches patient data only from "
                f"{base_url.rstrip('/')}",
                expression=["ServiceRequest.subject.reference"],
            )
        local = reference[len(base) :]
    parts = local.split("/")
    if len(parts) < 2 or parts[0] != "Patient" or not _FHIR_ID_RE.match(parts[1]):
        raise InvalidInput(
            f"subject {reference!r} is not a Patient reference the FHIR server can resolve "
            "(expected Patient/<id>); send the patient data in a Bundle instead",
            expression=["ServiceRequest.subject.reference"],
        )
    return parts[1]


def _fhir_base_url() -> str:
    base = current_app.config.get("FHIR_BASE_URL")
    if not base:
        raise UnprocessableInput(
            "no patient data in the request and no FHIR server is configured (FHIR_BASE_URL); "
            "send a Bundle with the patient's resources"
        )
    return str(base)


def _fhir_client(base_url: str) -> FhirClient:
    cfg = current_app.config
    return client_for(
        base_url,
        timeout=float(cfg.get("FHIR_TIMEOUT_SECONDS", 5.0)),
        deadline=float(cfg.get("FHIR_DEADLINE_SECONDS", 8.0)),
        page_cap=int(cfg.get("FHIR_PAGE_CAP", 50)),
        max_medication_reads=max_medication_reads(),
    )


def _fetch_record(base_url: str, reference: str) -> tuple[PatientRecord, float]:
    """Fetch the patient's record from the FHIR server → (PatientRecord, elapsed ms)."""
    patient_id = _patient_id(reference, base_url)
    started = time.perf_counter()
    fetched = fetch_record(_fhir_client(base_url), patient_id, limits=input_limits())
    elapsed_ms = (time.perf_counter() - started) * 1000
    if fetched.patient_missing:
        raise UnprocessableInput(
            f"the order's subject Patient/{patient_id} was not found on the FHIR server",
            expression=["ServiceRequest.subject.reference"],
        )
    patient_error = fetched.errors.get("Patient")
    if patient_error is not None:
        raise service_error(patient_error, f"reading Patient/{patient_id}")
    return fetched.to_record(), elapsed_ms


def _check_input_shape(resource: Any) -> dict[str, Any]:
    if not isinstance(resource, dict):
        raise InvalidInput("expected a FHIR Bundle or ServiceRequest (a JSON object)")
    resource_type = resource.get("resourceType")
    if resource_type not in _ACCEPTED_TYPES:
        raise InvalidInput(
            f"expected resourceType Bundle or ServiceRequest, got {resource_type!r}",
            expression=["resourceType"],
        )
    return resource


def assess_input(resource: Any) -> Assessed:
    """Split, validate, gather patient data (inline or fetched) and assess every order.

    Over-long codes and texts are cut first (data issues on every result); more orders than
    ``MAX_ORDERS_PER_CALL`` is a 422; orders the evaluation budget does not reach are "not rated".
    """
    resource = _check_input_shape(resource)
    notes = clip_input(resource)
    assessed = _assess(resource)
    assessed.results = [with_data_issues(result, notes) for result in assessed.results]
    return assessed


def _assess_one(order: dict[str, Any], record: PatientRecord, budget: EvaluationBudget) -> list[Result]:
    criteria = current_app.extensions["spine_auc.criteria"]
    if budget.spent():
        return [not_rated(order, criteria, TIME_BUDGET_REACHED)]
    return assess_orders([order], record, criteria)


def _assess(resource: dict[str, Any]) -> Assessed:
    orders, others = split_input(resource)  # at least one order, or InvalidInput
    check_order_count(len(orders), "ServiceRequest")
    budget = EvaluationBudget()
    subjects = [_subject_of(order) for order in orders]
    if not others:
        for index, subject in enumerate(subjects):
            if subject is None:
                raise InvalidInput(
                    "the ServiceRequest has no subject reference and no patient data was supplied; "
                    "add subject or send a Bundle with the patient's resources",
                    expression=[f"ServiceRequest[{index}].subject"],
                )
    timings: dict[str, float] = {}
    if others:
        # Patient data supplied inline: assessed as is, nothing is fetched. Each order must be a valid R4
        # ServiceRequest (subject is 1..1 in R4, so an order without one is a 400 too).
        started = time.perf_counter()
        record = record_from_resources(others)
        per_order = [_assess_one(order, record, budget) for order in checked_orders(orders)]
        timings["eval"] = (time.perf_counter() - started) * 1000
        return _per_study(per_order, subjects, timings)

    checked_orders(orders)  # before any network call
    base_url = _fhir_base_url()
    groups: dict[str, list[int]] = {}
    for index, subject in enumerate(subjects):
        groups.setdefault(str(subject), []).append(index)
    results_by_index: dict[int, list[Result]] = {}
    timings["fhirFetch"] = 0.0
    timings["eval"] = 0.0
    for reference, indexes in groups.items():
        record, fetch_ms = _fetch_record(base_url, reference)
        timings["fhirFetch"] += fetch_ms
        started = time.perf_counter()
        for i in indexes:
            results_by_index[i] = _assess_one(orders[i], record, budget)
        timings["eval"] += (time.perf_counter() - started) * 1000
    return _per_study([results_by_index[i] for i in range(len(orders))], subjects, timings)


def _per_study(
    per_order: list[list[Result]], subjects: list[str | None], timings: dict[str, float]
) -> Assessed:
    """One result per study (an order of two regions gives two, §1.3), each with its order's subject."""
    results = [result for results in per_order for result in results]
    by_result = [subject for results, subject in zip(per_order, subjects, strict=True) for _ in results]
    return Assessed(results=results, subjects=by_result, timings=timings)


def _record(assessed: Assessed, *, request_id: str, started: float) -> None:
    """Write the consultations to the audit store (if configured) before answering."""
    store = current_app.extensions.get("spine_auc.store")
    if store is None:
        return
    latency_ms = (time.perf_counter() - started) * 1000
    by_patient: dict[str | None, list[Result]] = {}
    for result, subject in zip(assessed.results, assessed.subjects, strict=True):
        by_patient.setdefault(subject, []).append(result)
    client = api_client()
    try:
        for patient, results in by_patient.items():
            store.record_consultations(
                results,
                hook_instance=None,
                request_id=request_id,
                caller_iss=client.iss if client else None,
                tenant=client.tenant if client else None,
                patient=patient,
                latency_ms=latency_ms,
            )
    except Exception as err:
        log.exception("recording consultations failed (request %s)", request_id, exc_info=err)
        raise ServiceUnavailable("the consultation could not be recorded; try again later") from None


def _server_timing(assessed: Assessed) -> str:
    return ", ".join(f"{name};dur={value:.1f}" for name, value in assessed.timings.items())


def _max_body() -> int:
    return int(current_app.config.get("MAX_BODY_BYTES", 5 * 1024 * 1024))


def _guidance(assessed: Assessed, request_id: str) -> dict[str, Any]:
    responses = []
    for index, (result, subject) in enumerate(zip(assessed.results, assessed.subjects, strict=True), 1):
        response = to_guidance_response(result, index=index, request_id=request_id, subject=subject)
        try:
            validate_guidance_response(response)
        except InvalidInput as err:
            log.error("GuidanceResponse for %s failed R4 validation: %s", result.consultation_id, err.message)
            raise GuidanceResponseInvalid(err.message) from None
        responses.append(response)
    return guidance_bundle(responses)


def _answer(
    assessed: Assessed,
    body: dict[str, Any],
    *,
    request_id: str,
    started: float,
    mimetype: str | None = None,
) -> Response:
    """The one route ending: audit the consultations, then answer ``body`` with our headers."""
    _record(assessed, request_id=request_id, started=started)
    count_outcomes(assessed.results)
    response = jsonify(body)
    if mimetype:
        response.mimetype = mimetype
    response.headers["X-Request-ID"] = request_id
    response.headers["Server-Timing"] = _server_timing(assessed)
    return response


def _answer_guidance(assessed: Assessed, *, request_id: str, started: float) -> Response:
    """The FHIR operations' ending: a Bundle of GuidanceResponses (validated before anything is recorded)."""
    bundle = _guidance(assessed, request_id)
    return _answer(assessed, bundle, request_id=request_id, started=started, mimetype=FHIR_JSON)


# --------------------------------------------------------------------------------------------------
# Routes


@bp.post("/api/v1/appropriateness")
@require_scope(SCOPE_EVALUATE)
def appropriateness() -> Response:
    started = time.perf_counter()
    request_id = _request_id()
    assessed = assess_input(read_json_body(request, _max_body()))
    _check_questionnaires(assessed)
    results = [result.to_json() for result in assessed.results]
    return _answer(assessed, {"results": results}, request_id=request_id, started=started)


def _check_questionnaires(assessed: Assessed) -> None:
    """Every generated Questionnaire is valid R4 before it is sent (the GuidanceResponse checks its own)."""
    for result in assessed.results:
        if result.questionnaire is None:
            continue
        try:
            validate_questionnaire(result.questionnaire)
        except InvalidInput as err:
            log.error("Questionnaire for %s failed R4 validation: %s", result.consultation_id, err.message)
            raise GuidanceResponseInvalid(err.message) from None


def _operation_input(body: Any) -> Any:
    """``Parameters`` with a ``request`` resource parameter, or the resource itself."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        parameters = body.get("parameter")
        if not isinstance(parameters, list):
            raise InvalidInput("Parameters has no parameter", expression=["Parameters.parameter"])
        found = [p for p in parameters if isinstance(p, dict) and p.get("name") == "request"]
        unknown = [p.get("name") for p in parameters if isinstance(p, dict) and p.get("name") != "request"]
        if unknown:
            raise InvalidInput(f"unknown parameter(s) {unknown}; $appropriateness takes 'request'")
        if len(found) != 1 or not isinstance(found[0].get("resource"), dict):
            raise InvalidInput(
                "Parameters must carry exactly one 'request' parameter "
                "with a Bundle or ServiceRequest resource",
                expression=["Parameters.parameter"],
            )
        return found[0]["resource"]
    return body


@bp.post("/fhir/ServiceRequest/$appropriateness")
@require_scope(SCOPE_EVALUATE)
def fhir_appropriateness() -> Response:
    started = time.perf_counter()
    request_id = _request_id()
    assessed = assess_input(_operation_input(read_json_body(request, _max_body())))
    return _answer_guidance(assessed, request_id=request_id, started=started)


def _check_instance_body() -> None:
    """The instance-level operation takes no input; an empty body or an empty Parameters is accepted."""
    raw = read_body_bytes(request, _max_body())
    if not raw.strip():
        return
    if request.mimetype not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {request.content_type or 'none'!r}; this operation takes no body "
            "or an empty Parameters resource as application/fhir+json"
        )
    body = parse_json_bytes(raw)
    if not (
        isinstance(body, dict) and body.get("resourceType") == "Parameters" and not body.get("parameter")
    ):
        raise InvalidInput("this operation takes no input; send no body or an empty Parameters resource")


@bp.post("/fhir/ServiceRequest/<order_id>/$appropriateness")
@require_scope(SCOPE_EVALUATE)
def fhir_instance_appropriateness(order_id: str) -> Response:
    started = time.perf_counter()
    request_id = _request_id()
    _check_instance_body()
    if not _FHIR_ID_RE.match(order_id):
        raise InvalidInput(f"{order_id!r} is not a valid FHIR id", expression=["ServiceRequest.id"])
    base_url = _fhir_base_url()
    client = _fhir_client(base_url)
    try:
        order = client.read("ServiceRequest", order_id)
    except FhirNotFound:
        raise NotFound(f"ServiceRequest/{order_id} was not found on the FHIR server") from None
    except FhirError as err:
        raise service_error(err, f"reading ServiceRequest/{order_id}") from None
    # ``read`` guarantees a ServiceRequest (anything else is a FhirInvalidResponse, mapped above).
    return _answer_guidance(assess_input(order), request_id=request_id, started=started)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(build_openapi())
