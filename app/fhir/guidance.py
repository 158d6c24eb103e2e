"""Engine results (clinical-rules.md §7) → FHIR R4 ``GuidanceResponse`` resources and their Bundle.

Pure: dicts in, dicts out. Structural validation with R4B happens in the web layer before sending.

Mapping
- ``identifier`` = the consultation id (``urn:uuid:…``); ``requestIdentifier`` = the HTTP request id.
- ``moduleUri`` = ``https://spine-auc.org/criteria/<criteria version>/<topic id>`` (no topic: the
  criteria version only).
- ``status``: ``success`` for rated / no-criteria / not-applicable; ``data-required`` for
  insufficient-data, with one ``dataRequirement`` per missing fact (type = the FHIR resource type that
  would decide it, ``mustSupport`` = the element, extension ``…/missing-fact`` = the fact name).
- ``outputParameters`` → ``#params-<n>``, a contained ``Parameters`` with status, category, score,
  scoreBasis, topic, variant, matched variants, RRL, PAMA rating, procedure, modifiers, alternatives.
- ``reasonReference`` = the evidence of the reasons and modifiers; ``note`` = the explanation and
  the modifiers' and missing facts' texts; each reason is a ``reason`` parameter (fact, text, evidence);
  ``evaluationMessage`` → a contained ``OperationOutcome`` listing skipped malformed resources.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

MODULE_BASE = "https://spine-auc.org/criteria"
EXT_BASE = "https://spine-auc.org/fhir/StructureDefinition"
MISSING_FACT_EXT = f"{EXT_BASE}/missing-fact"
CODE_SYSTEM = "https://spine-auc.org/fhir/CodeSystem"
REQUEST_ID_SYSTEM = "https://spine-auc.org/fhir/NamingSystem/request-id"

# Which resource type and element would decide a fact that is unknown.
FACT_DATA: dict[str, tuple[str, list[str]]] = {
    "age": ("Patient", ["birthDate"]),
    "elderly": ("Patient", ["birthDate"]),
    "back_pain": ("Condition", ["code"]),
    "duration": ("Condition", ["onset[x]", "recordedDate"]),
    "prior_management": ("MedicationStatement", ["medication[x]"]),
    "management_weeks": ("MedicationStatement", ["effective[x]"]),
    "chronic_steroid_use": ("MedicationStatement", ["medication[x]", "effective[x]"]),
    "immunosuppression": ("MedicationStatement", ["medication[x]"]),
    "prior_lumbar_surgery": ("Procedure", ["code", "performed[x]"]),
    "new_or_progressing_after_surgery": ("Condition", ["onset[x]", "recordedDate"]),
    "low_velocity_trauma": ("Condition", ["code", "onset[x]"]),
    "myelopathy": ("Condition", ["code", "onset[x]"]),
    "mr_unsafe_device": ("Device", ["safety", "type"]),
    "mr_conditional_device": ("Device", ["safety", "type"]),
}
_DEFAULT_FACT_DATA: tuple[str, list[str]] = ("Condition", ["code"])

_SUCCESS_STATUSES = {"rated", "no-criteria", "not-applicable"}


def module_uri(result: dict[str, Any]) -> str:
    version = quote(str(result.get("criteriaVersion") or "unversioned"), safe="")
    topic = result.get("topic") or {}
    topic_id = topic.get("id") if isinstance(topic, dict) else None
    return (
        f"{MODULE_BASE}/{version}/{quote(str(topic_id), safe='')}" if topic_id else f"{MODULE_BASE}/{version}"
    )


def guidance_status(result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "insufficient-data":
        return "data-required"
    if status in _SUCCESS_STATUSES:
        return "success"
    return "failure"


def _param(name: str, value_key: str, value: Any) -> dict[str, Any]:
    return {"name": name, value_key: value}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _procedure_parts(procedure: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if procedure.get("id"):
        parts.append(_param("id", "valueString", str(procedure["id"])))
    if procedure.get("display"):
        parts.append(_param("display", "valueString", str(procedure["display"])))
    for code in procedure.get("codes") or []:
        if isinstance(code, dict) and code.get("system") and code.get("code"):
            parts.append(
                _param("code", "valueCoding", _coding(code["system"], code["code"], code.get("display")))
            )
    return parts


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def output_parameters(result: dict[str, Any], params_id: str) -> dict[str, Any]:
    """The contained ``Parameters`` carrying the rating."""
    params: list[dict[str, Any]] = [
        _param("status", "valueCode", str(result.get("status"))),
        _param("criteriaVersion", "valueString", str(result.get("criteriaVersion") or "")),
    ]
    if result.get("serviceRequest"):
        params.append(
            _param("serviceRequest", "valueReference", {"reference": str(result["serviceRequest"])})
        )
    topic = result.get("topic")
    if isinstance(topic, dict) and topic.get("id"):
        parts = [_param("id", "valueString", str(topic["id"]))]
        for key in ("title", "version"):
            if topic.get(key):
                parts.append(_param(key, "valueString", str(topic[key])))
        params.append({"name": "topic", "part": parts})
    variant = result.get("variant")
    if isinstance(variant, dict) and isinstance(variant.get("number"), int):
        parts = [_param("number", "valueInteger", variant["number"])]
        if variant.get("text"):
            parts.append(_param("text", "valueString", str(variant["text"])))
        params.append({"name": "variant", "part": parts})
    for number in result.get("matchedVariants") or []:
        if isinstance(number, int):
            params.append(_param("matchedVariant", "valueInteger", number))
    if result.get("category"):
        params.append(
            _param("category", "valueCoding", _coding(f"{CODE_SYSTEM}/acr-category", str(result["category"])))
        )
    if _number(result.get("score")):
        params.append(_param("score", "valueDecimal", result["score"]))
    if result.get("scoreBasis"):
        params.append(_param("scoreBasis", "valueCode", str(result["scoreBasis"])))
    if result.get("rrl"):
        params.append(_param("rrl", "valueString", str(result["rrl"])))
    if result.get("pamaRating"):
        params.append(_param("pamaRating", "valueCode", str(result["pamaRating"])))
    procedure = result.get("procedure")
    if isinstance(procedure, dict) and (parts := _procedure_parts(procedure)):
        params.append({"name": "procedure", "part": parts})
    for modifier in result.get("modifiers") or []:
        if not isinstance(modifier, dict):
            continue
        parts = [
            _param(key, "valueString", str(modifier[key]))
            for key in ("id", "title", "effect", "indicator", "text")
            if modifier.get(key)
        ]
        if parts:
            params.append({"name": "modifier", "part": parts})
    for reason in result.get("reasons") or []:
        if isinstance(reason, dict) and reason.get("fact"):
            parts = [_param("fact", "valueString", str(reason["fact"]))]
            if reason.get("text"):
                parts.append(_param("text", "valueString", str(reason["text"])))
            parts.extend(
                _param("evidence", "valueReference", {"reference": ref})
                for ref in reason.get("evidence") or []
                if isinstance(ref, str) and ref
            )
            params.append({"name": "reason", "part": parts})
    for alt in result.get("alternatives") or []:
        if not isinstance(alt, dict):
            continue
        parts = []
        if isinstance(alt.get("procedure"), dict):
            parts.extend(_procedure_parts(alt["procedure"]))
        if alt.get("category"):
            parts.append(
                _param("category", "valueCoding", _coding(f"{CODE_SYSTEM}/acr-category", alt["category"]))
            )
        if _number(alt.get("score")):
            parts.append(_param("score", "valueDecimal", alt["score"]))
        if alt.get("rrl"):
            parts.append(_param("rrl", "valueString", str(alt["rrl"])))
        if parts:
            params.append({"name": "alternative", "part": parts})
    return {"resourceType": "Parameters", "id": params_id, "parameter": params}


def data_requirements(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``DataRequirement`` per missing fact."""
    requirements: list[dict[str, Any]] = []
    for missing in result.get("missing") or []:
        fact = missing.get("fact") if isinstance(missing, dict) else str(missing)
        if not fact:
            continue
        resource_type, elements = FACT_DATA.get(str(fact), _DEFAULT_FACT_DATA)
        requirements.append(
            {
                "extension": [{"url": MISSING_FACT_EXT, "valueString": str(fact)}],
                "type": resource_type,
                "mustSupport": elements,
            }
        )
    return requirements


def _evidence(result: dict[str, Any]) -> list[dict[str, Any]]:
    seen: list[str] = []
    for item in [*(result.get("reasons") or []), *(result.get("modifiers") or [])]:
        if not isinstance(item, dict):
            continue
        for ref in item.get("evidence") or []:
            if isinstance(ref, str) and ref and ref not in seen:
                seen.append(ref)
    return [{"reference": ref} for ref in seen]


def _notes(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The explanation first, then what modifiers and missing facts say (the reasons are parameters)."""
    texts: list[str] = []
    if isinstance(result.get("explanation"), str) and result["explanation"].strip():
        texts.append(result["explanation"])
    for key in ("modifiers", "missing"):
        for item in result.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
                texts.append(item["text"])
    return [{"text": text} for text in texts]


def _issue_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return "; ".join(f"{key}: {value}" for key, value in item.items())
    return str(item)


def _issues_outcome(result: dict[str, Any], outcome_id: str) -> dict[str, Any] | None:
    issues = result.get("dataIssues") or []
    if not issues:
        return None
    return {
        "resourceType": "OperationOutcome",
        "id": outcome_id,
        "issue": [
            {
                "severity": "warning",
                "code": "invalid",
                "diagnostics": _issue_text(item),
            }
            for item in issues
        ],
    }


def _iso(now: datetime) -> str:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.isoformat(timespec="seconds")


def to_guidance_response(
    result: dict[str, Any],
    *,
    index: int,
    request_id: str,
    subject: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build one GuidanceResponse for one engine result (``index`` numbers the contained resources)."""
    now = now or datetime.now(UTC)
    consultation_id = str(result.get("consultationId") or "")
    params_id = f"params-{index}"
    contained: list[dict[str, Any]] = [output_parameters(result, params_id)]
    response: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "requestIdentifier": {"system": REQUEST_ID_SYSTEM, "value": request_id},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": consultation_id}],
        "moduleUri": module_uri(result),
        "status": guidance_status(result),
        "occurrenceDateTime": _iso(now),
        "outputParameters": {"reference": f"#{params_id}"},
    }
    if consultation_id.startswith("urn:uuid:"):
        response["id"] = consultation_id.removeprefix("urn:uuid:")
    if subject:
        response["subject"] = {"reference": subject}
    outcome = _issues_outcome(result, f"issues-{index}")
    if outcome is not None:
        contained.append(outcome)
        response["evaluationMessage"] = [{"reference": f"#{outcome['id']}"}]
    if evidence := _evidence(result):
        response["reasonReference"] = evidence
    if notes := _notes(result):
        response["note"] = notes
    if requirements := data_requirements(result):
        response["dataRequirement"] = requirements
    response["contained"] = contained
    return response


def guidance_bundle(responses: list[dict[str, Any]], *, now: datetime | None = None) -> dict[str, Any]:
    """A ``collection`` Bundle of GuidanceResponses, each entry's fullUrl being its consultation id."""
    now = now or datetime.now(UTC)
    entries = []
    for response in responses:
        identifiers = response.get("identifier") or [{}]
        full_url = identifiers[0].get("value")
        entry: dict[str, Any] = {"resource": response}
        if isinstance(full_url, str) and full_url.startswith("urn:uuid:"):
            entry["fullUrl"] = full_url
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "collection", "timestamp": _iso(now), "entry": entries}
