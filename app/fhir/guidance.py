"""Engine results (clinical-rules.md §7) → FHIR R4 ``GuidanceResponse`` resources and their Bundle.

Pure: a typed :class:`app.clinical.result.Result` in, dicts out. Structural validation with R4B happens in the web layer before sending.

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
- ``data-required`` also contains the ``Questionnaire`` asking for the missing facts (``#questionnaire-<n>``,
  referenced by the extension ``…/questionnaire``); its answers come back as a ``QuestionnaireResponse``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from app.clinical.result import ProcedureRef, Result
from app.clinical.vocabulary import Status

MODULE_BASE = "https://spine-auc.org/criteria"
EXT_BASE = "https://spine-auc.org/fhir/StructureDefinition"
MISSING_FACT_EXT = f"{EXT_BASE}/missing-fact"
QUESTIONNAIRE_EXT = f"{EXT_BASE}/questionnaire"
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

_SUCCESS_STATUSES = {Status.RATED, Status.NO_CRITERIA, Status.NOT_APPLICABLE}


def module_uri(result: Result) -> str:
    version = quote(result.criteria_version or "unversioned", safe="")
    topic_id = result.topic.id if result.topic else None
    return (
        f"{MODULE_BASE}/{version}/{quote(str(topic_id), safe='')}" if topic_id else f"{MODULE_BASE}/{version}"
    )


def guidance_status(result: Result) -> str:
    if result.status is Status.INSUFFICIENT_DATA:
        return "data-required"
    if result.status in _SUCCESS_STATUSES:
        return "success"
    return "failure"


def _param(name: str, value_key: str, value: Any) -> dict[str, Any]:
    return {"name": name, value_key: value}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _procedure_parts(procedure: ProcedureRef) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if procedure.id:
        parts.append(_param("id", "valueString", procedure.id))
    if procedure.display:
        parts.append(_param("display", "valueString", procedure.display))
    for code in procedure.codes:
        if code.system and code.code:
            parts.append(_param("code", "valueCoding", _coding(code.system, code.code, code.display)))
    return parts


def output_parameters(result: Result, params_id: str) -> dict[str, Any]:
    """The contained ``Parameters`` carrying the rating."""
    params: list[dict[str, Any]] = [
        _param("status", "valueCode", str(result.status)),
        _param("criteriaVersion", "valueString", result.criteria_version or ""),
    ]
    if result.service_request:
        params.append(_param("serviceRequest", "valueReference", {"reference": result.service_request}))
    if result.topic and result.topic.id:
        parts = [_param("id", "valueString", result.topic.id)]
        for key, value in (("title", result.topic.title), ("version", result.topic.version)):
            if value:
                parts.append(_param(key, "valueString", value))
        params.append({"name": "topic", "part": parts})
    if result.variant is not None:
        parts = [_param("number", "valueInteger", result.variant.number)]
        if result.variant.text:
            parts.append(_param("text", "valueString", result.variant.text))
        params.append({"name": "variant", "part": parts})
    for number in result.matched_variants:
        params.append(_param("matchedVariant", "valueInteger", number))
    if result.category:
        params.append(
            _param("category", "valueCoding", _coding(f"{CODE_SYSTEM}/acr-category", str(result.category)))
        )
    if result.score is not None:
        params.append(_param("score", "valueDecimal", result.score))
    if result.score_basis:
        params.append(_param("scoreBasis", "valueCode", str(result.score_basis)))
    if result.rrl:
        params.append(_param("rrl", "valueString", result.rrl))
    if result.pama_rating:
        params.append(_param("pamaRating", "valueCode", str(result.pama_rating)))
    if result.procedure is not None and (parts := _procedure_parts(result.procedure)):
        params.append({"name": "procedure", "part": parts})
    for modifier in result.modifiers:
        fields = (
            ("id", modifier.id),
            ("title", modifier.title),
            ("effect", modifier.effect),
            ("indicator", modifier.indicator),
            ("text", modifier.text),
        )
        parts = [_param(key, "valueString", str(value)) for key, value in fields if value]
        if parts:
            params.append({"name": "modifier", "part": parts})
    for entry in result.safety:
        parts = [
            _param("check", "valueCode", entry.check),
            _param("status", "valueCode", entry.status),
            _param("indicator", "valueCode", str(entry.indicator)),
            _param("text", "valueString", entry.text),
        ]
        parts += [_param("evidence", "valueReference", {"reference": ref}) for ref in entry.evidence if ref]
        params.append({"name": "safety", "part": parts})
    for assumption in result.assumptions:
        parts = [
            _param("fact", "valueString", assumption.fact),
            _param("value", "valueBoolean", assumption.value),
            _param("text", "valueString", assumption.text),
            _param("setting", "valueString", assumption.setting),
        ]
        params.append({"name": "assumption", "part": parts})
    for missing in result.missing:
        if missing.question:
            params.append(
                {
                    "name": "question",
                    "part": [
                        _param("fact", "valueString", missing.fact),
                        _param("text", "valueString", missing.question),
                    ],
                }
            )
    for reason in result.reasons:
        if reason.fact:
            parts = [_param("fact", "valueString", reason.fact)]
            if reason.text:
                parts.append(_param("text", "valueString", reason.text))
            parts.extend(
                _param("evidence", "valueReference", {"reference": ref}) for ref in reason.evidence if ref
            )
            params.append({"name": "reason", "part": parts})
    for alt in result.alternatives:
        parts = _procedure_parts(alt.procedure)
        parts.append(
            _param("category", "valueCoding", _coding(f"{CODE_SYSTEM}/acr-category", str(alt.category)))
        )
        parts.append(_param("score", "valueDecimal", alt.score))
        if alt.rrl:
            parts.append(_param("rrl", "valueString", alt.rrl))
        params.append({"name": "alternative", "part": parts})
    return {"resourceType": "Parameters", "id": params_id, "parameter": params}


def data_requirements(result: Result) -> list[dict[str, Any]]:
    """One ``DataRequirement`` per missing fact."""
    requirements: list[dict[str, Any]] = []
    for missing in result.missing:
        if not missing.fact:
            continue
        resource_type, elements = FACT_DATA.get(missing.fact, _DEFAULT_FACT_DATA)
        requirements.append(
            {
                "extension": [{"url": MISSING_FACT_EXT, "valueString": missing.fact}],
                "type": resource_type,
                "mustSupport": elements,
            }
        )
    return requirements


def _evidence(result: Result) -> list[dict[str, Any]]:
    seen: list[str] = []
    for evidence in [
        *(r.evidence for r in result.reasons),
        *(m.evidence for m in result.modifiers),
        *(s.evidence for s in result.safety),
    ]:
        for ref in evidence:
            if ref and ref not in seen:
                seen.append(ref)
    return [{"reference": ref} for ref in seen]


def _notes(result: Result) -> list[dict[str, Any]]:
    """The explanation first, then what modifiers and missing facts say (the reasons are parameters)."""
    texts = [result.explanation] if result.explanation.strip() else []
    texts += [f"{s.indicator}: {s.text}" for s in result.safety if s.text.strip()]
    texts += [m.text for m in result.modifiers if m.text.strip()]
    texts += [a.text for a in result.assumptions if a.text.strip()]
    texts += [m.question or m.text for m in result.missing if (m.question or m.text).strip()]
    return [{"text": text} for text in texts]


def _issues_outcome(result: Result, outcome_id: str) -> dict[str, Any] | None:
    if not result.data_issues:
        return None
    return {
        "resourceType": "OperationOutcome",
        "id": outcome_id,
        "issue": [
            {"severity": "warning", "code": "invalid", "diagnostics": item} for item in result.data_issues
        ],
    }


def _iso(now: datetime) -> str:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.isoformat(timespec="seconds")


def to_guidance_response(
    result: Result,
    *,
    index: int,
    request_id: str,
    subject: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build one GuidanceResponse for one result (``index`` numbers the contained resources)."""
    now = now or datetime.now(UTC)
    consultation_id = result.consultation_id
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
    if result.questionnaire is not None:
        # The questions to the ordering clinician; answers come back as a QuestionnaireResponse in the input.
        questionnaire_id = f"questionnaire-{index}"
        contained.append({**result.questionnaire, "id": questionnaire_id})
        response["extension"] = [
            {"url": QUESTIONNAIRE_EXT, "valueReference": {"reference": f"#{questionnaire_id}"}}
        ]
    response["contained"] = contained
    return _valid_text(response)


def _valid_text(value: Any) -> Any:
    """Every string as valid Unicode: a lone surrogate that reached a text (a hostile code echoed in a data
    issue) becomes U+FFFD, so the resource stays valid R4 instead of failing validation with a 500."""
    if isinstance(value, str):
        return (
            "".join("\ufffd" if _SURROGATE_MIN <= ch <= _SURROGATE_MAX else ch for ch in value)
            if _has_surrogate(value)
            else value
        )
    if isinstance(value, dict):
        return {k: _valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value


_SURROGATE_MIN, _SURROGATE_MAX = "\ud800", "\udfff"


def _has_surrogate(text: str) -> bool:
    return any(_SURROGATE_MIN <= ch <= _SURROGATE_MAX for ch in text)


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
