"""The question page, seen from CDS Hooks: the link on an insufficient-data card, and answers in force.

- :func:`question_link` opens a question for one insufficient-data result (the order and the record needed to
  re-rate are kept server-side until answered or expired) and returns the card's ``links[]`` entry: an
  ``absolute`` link to ``GET /questions/<token>`` (a signed, expiring token naming the question, never the
  patient).
- :func:`with_stored_answers` adds the answers given on that page to the record when the same order comes back
  (same ServiceRequest id and patient, within ``QUESTIONS_ANSWER_WINDOW_MINUTES``), so order-sign rates it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, request

from app.clinical.assessment import PatientRecord
from app.clinical.result import Result
from app.clinical.vocabulary import Status
from app.fhir.models import validate_questionnaire
from app.security.links import issue, new_question_id
from app.store.questions import QuestionStore


def questions_store() -> QuestionStore | None:
    store: QuestionStore | None = current_app.extensions.get("spine_auc.questions")
    return store


def link_secret() -> bytes:
    secret: bytes = current_app.extensions["spine_auc.link_secret"]
    return secret


def record_to_json(record: PatientRecord) -> dict[str, Any]:
    return {
        "patient": record.patient,
        "resources": record.resources,
        "unavailable": sorted(record.unavailable),
        "issues": list(record.issues),
        "answers": list(record.answers),
    }


def record_from_json(data: dict[str, Any]) -> PatientRecord:
    return PatientRecord(
        patient=data.get("patient"),
        resources={k: list(v) for k, v in (data.get("resources") or {}).items()},
        unavailable=set(data.get("unavailable") or ()),
        issues=list(data.get("issues") or ()),
        answers=list(data.get("answers") or ()),
    )


def _base_url() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return str(base).rstrip("/") if base else request.host_url.rstrip("/")


def question_link(
    result: Result, order: dict[str, Any], record: PatientRecord, patient: str
) -> dict[str, Any] | None:
    """Open a question for ``result`` and return its card link (``None``: nothing to ask, or no store)."""
    store = questions_store()
    if store is None or result.status is not Status.INSUFFICIENT_DATA or result.questionnaire is None:
        return None
    validate_questionnaire(result.questionnaire)  # R4; a failure is our bug (a 500, no link to a bad form)
    minutes = float(current_app.config.get("QUESTIONS_LINK_MINUTES", 30))
    expires_at = datetime.now(UTC) + timedelta(minutes=minutes)
    question_id = new_question_id()
    store.open_question(
        question_id,
        consultation_id=result.consultation_id,
        patient=patient,
        order_ref=result.service_request,
        expires_at=expires_at,
        context={"order": order, "record": record_to_json(record), "patientId": patient},
    )
    token = issue(link_secret(), question_id, int(expires_at.timestamp()))
    count = len(result.questionnaire.get("item", []))
    return {
        "label": f"Answer {count} question{'s' if count != 1 else ''} to rate this order",
        "url": f"{_base_url()}/questions/{token}",
        "type": "absolute",
    }


def stored_answers(patient: str, order: dict[str, Any]) -> dict[str, Any] | None:
    """The latest answers given on the question page for this order and patient, within the window."""
    store = questions_store()
    order_id = order.get("id")
    if store is None or not isinstance(order_id, str):
        return None
    window = timedelta(minutes=float(current_app.config.get("QUESTIONS_ANSWER_WINDOW_MINUTES", 120)))
    return store.answers_in_force(patient, f"ServiceRequest/{order_id}", window=window)


def with_stored_answers(record: PatientRecord, response: dict[str, Any]) -> PatientRecord:
    """The record with the page's answers added (the cached record itself is left as it was)."""
    return replace(record, answers=[*record.answers, response], facts_cache=record.facts_cache)
