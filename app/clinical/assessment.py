"""The one question every caller asks: orders + patient record → typed results (clinical-rules.md §7).

Used by the CLI, the REST API, the FHIR operation and CDS Hooks. Pure: orders must already be valid R4
ServiceRequests (callers check them with :func:`app.fhir.input.checked_orders`); patient resources are read as
dicts (see :mod:`app.clinical.records`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from app.clinical.answers import answers_for, apply_answers, apply_procedure_answer
from app.clinical.conclusion import assess
from app.clinical.fact_rules import build_facts
from app.clinical.facts import PatientFacts
from app.clinical.orders import OrderedProcedure, resolve_procedure, resolve_studies
from app.clinical.questionnaire import questionnaire_for
from app.clinical.records import evaluation_date, ref_of
from app.clinical.region import with_region_check
from app.clinical.report import report
from app.clinical.result import Result
from app.clinical.safety import check as safety_check
from app.criteria.model import Criteria

# The patient's resource types a record is made of (the one list: the FHIR fetch and the CDS prefetch
# templates derive from it). Medications come along by reference, so they are grouped but never asked for.
RECORD_TYPES = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Procedure",
    "Device",
    "DiagnosticReport",  # a prior radiograph's result (clinical-rules §4.2 V6)
    "Observation",  # a prior radiograph's result; pregnancy status (§5.4)
)
PATIENT_TYPES = (*RECORD_TYPES[1:], "Medication")


@dataclass
class PatientRecord:
    """A patient's record as we obtained it. ``unavailable`` = types we could not get (facts become unknown).

    Treat it as read-only once built: facts computed from it are memoised on it (``facts_cache``), so a record
    reused for several orders, or for repeated CDS calls with an identical prefetch, is read only once.
    """

    patient: dict[str, Any] | None = None
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)
    issues: list[str] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)  # QuestionnaireResponses (clinician-attested)
    facts_cache: dict[tuple[Any, ...], PatientFacts] = field(default_factory=dict, repr=False, compare=False)


def record_from_resources(resources: list[dict[str, Any]]) -> PatientRecord:
    """Group supplied resources by type. Supplied data is taken as the complete record (none unavailable)."""
    record = PatientRecord(resources={t: [] for t in PATIENT_TYPES})
    for res in resources:
        if not isinstance(res, dict):
            record.issues.append("a supplied resource is not a JSON object; skipped")
            continue
        rtype = res.get("resourceType")
        if rtype == "Patient":
            if record.patient is None:
                record.patient = res
            else:
                record.issues.append(f"more than one Patient supplied; {res.get('id')!r} ignored")
        elif isinstance(rtype, str) and rtype in record.resources:
            record.resources[rtype].append(res)
        elif rtype == "QuestionnaireResponse":
            record.answers.append(res)
        else:
            record.issues.append(
                f"{str(rtype)[:64]}/{str(res.get('id'))[:64]} is not a type we read; ignored"
            )
    return record


def _subject(order: dict[str, Any]) -> str | None:
    subject = order.get("subject")
    ref = subject.get("reference") if isinstance(subject, dict) else None
    return ref if isinstance(ref, str) else None


def _belongs_to(resource: dict[str, Any], patient_ref: str | None) -> bool:
    """True unless the resource names a different patient than the order."""
    if patient_ref is None:
        return True
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            target = ref["reference"]
            if target.startswith("urn:uuid:") or target == patient_ref or target.endswith("/" + patient_ref):
                return True
            return patient_ref.endswith("/" + target) if "/" in target else False
    return True


def _facts_for(order: dict[str, Any], record: PatientRecord, criteria: Criteria, as_of: date) -> PatientFacts:
    """Facts for this order: they depend on the record, the order's subject and reasons, and the date only."""
    subject = _subject(order)
    reason_codes = [c for c in order.get("reasonCode", []) or [] if isinstance(c, dict)]
    refs = [r.get("reference") for r in order.get("reasonReference", []) or [] if isinstance(r, dict)]
    key = (
        criteria.version,
        as_of,
        subject,
        json.dumps([reason_codes, refs], sort_keys=True) if (reason_codes or refs) else None,
        ref_of(order) if (reason_codes or refs) else None,  # order reasons are evidence "ServiceRequest/<id>"
    )
    cached = record.facts_cache.get(key)
    if cached is None:
        resources = {
            rtype: [r for r in items if isinstance(r, dict) and _belongs_to(r, subject)]
            for rtype, items in record.resources.items()
        }
        skipped = sum(len(v) for v in record.resources.values()) - sum(len(v) for v in resources.values())
        reasons = reason_codes + _reason_references(order, resources)
        cached = build_facts(
            criteria,
            order=order,
            order_reasons=reasons,
            patient=record.patient,
            resources=resources,
            unavailable=set(record.unavailable),
            evaluation=as_of,
        )
        if skipped:
            cached.issues.append(f"{skipped} resource(s) belong to another patient than {subject}; ignored")
        cached.issues[:0] = record.issues
        if len(record.facts_cache) >= 32:
            record.facts_cache.clear()
        record.facts_cache[key] = cached
    # A shallow copy: the engine only reads facts; the issues list is the caller's own.
    return replace(cached, issues=list(cached.issues))


def assess_order(
    order: dict[str, Any],
    record: PatientRecord,
    criteria: Criteria,
    *,
    now: datetime | None = None,
    ordered: OrderedProcedure | None = None,
) -> Result:
    """Assess one valid R4 ServiceRequest against the patient's record (``ordered``: already resolved)."""
    started = time.perf_counter()
    as_of = evaluation_date(order, now)
    facts = _facts_for(order, record, criteria, as_of)
    ordered = ordered or resolve_procedure(order, criteria)
    if record.answers:
        answers, issues = answers_for(record.answers, order_ref=ref_of(order), subject=_subject(order))
        facts = apply_answers(facts, answers)
        ordered, procedure_issues = apply_procedure_answer(ordered, answers, criteria)
        facts.issues.extend(issues + procedure_issues)
    assessment = assess(ordered, facts, criteria)
    assessment = safety_check(assessment, facts, criteria)
    result = report(
        assessment,
        facts,
        criteria,
        order=order,
        consultation_id=f"urn:uuid:{uuid.uuid4()}",
        evaluation_date=as_of,
    )
    result = with_region_check(result, assessment, facts, criteria)
    if len(ordered.studies_on_order) > 1:
        studies = "; ".join(ordered.studies_on_order)
        note = f"This order carries {len(ordered.studies_on_order)} studies ({studies}): each is assessed on its own."
        result = replace(result, explanation=f"{result.explanation} {note}")
    result = replace(result, questionnaire=questionnaire_for(result))
    return replace(result, latency_ms=round((time.perf_counter() - started) * 1000, 3))


def _reason_references(order: dict[str, Any], resources: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """Conditions named by ``reasonReference`` count as order reasons too (when supplied)."""
    out = []
    by_ref = {f"Condition/{c.get('id')}": c for c in resources.get("Condition", []) if isinstance(c, dict)}
    for ref in order.get("reasonReference", []) or []:
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str):
            key = "/".join(target.split("/")[-2:])
            if key in by_ref and isinstance(by_ref[key].get("code"), dict):
                out.append(by_ref[key]["code"])
    return out


def assess_orders(
    orders: list[dict[str, Any]], record: PatientRecord, criteria: Criteria, *, now: datetime | None = None
) -> list[Result]:
    """Assess every (valid R4) order against the record: one result per study, in order (§1.3, §7)."""
    return [
        assess_order(order, record, criteria, now=now, ordered=study)
        for order in orders
        for study in resolve_studies(order, criteria)
    ]
