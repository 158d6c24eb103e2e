"""The question page: ``GET /questions/<token>`` asks the missing facts, ``POST`` re-rates at once.

The token (see :mod:`app.security.links`) names one open question, i.e. one insufficient-data consultation.
The page shows the minimum: the order, what is missing, what each answer would give, and the form (one
fieldset per question; plain HTML, no JavaScript, the stylesheet ships with the package). Answers are checked
against the consultation's Questionnaire (a bad answer shows the form again with the error, 400), stored as a
QuestionnaireResponse linked to that consultation, and the order is re-rated and recorded as a new
consultation. The same order sent again through order-select or order-sign then gets the answers too.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from app.cds.questions import link_secret, questions_store, record_from_json
from app.clinical.answers import ANSWERED_BY
from app.clinical.assessment import assess_order
from app.clinical.result import Result
from app.errors import InvalidInput
from app.fhir.models import validate_resource
from app.security.links import BadToken, csrf_ok, csrf_token, verify
from app.store.questions import Question

log = logging.getLogger("spine_auc.web.pages.questions")

bp = Blueprint(
    "questions",
    __name__,
    url_prefix="/questions",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # the link token must not leak to other sites
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.headers.update(SECURITY_HEADERS)
    return response


def _problem(title: str, text: str, status: int) -> Response:
    return _page("questions/problem.html", status, title=title, text=text)


def _open(token: str) -> Question | Response:
    """The question the token names, or the page saying why it cannot be answered."""
    store = questions_store()
    if store is None:
        return _problem("Not available", "This service keeps no record of questions.", 404)
    try:
        link = verify(link_secret(), token)
    except BadToken as bad:
        if bad.expired:
            return _problem(
                "This link has expired",
                "Links to these questions are valid for a short time only. Select or sign the order again "
                "to get a new link.",
                410,
            )
        return _problem("Link not valid", "This link is not valid. Use the link on the order's card.", 404)
    question = store.get(link.question_id)
    if question is None:
        return _problem("Link not valid", "This link is not valid. Use the link on the order's card.", 404)
    return question


def _first_result(question: Question) -> dict[str, Any] | None:
    found = current_app.extensions["spine_auc.store"].get_consultation(question.consultation_id)
    return None if found is None else dict(found["result"])


def _options(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The questions as the form shows them: the Questionnaire items with each option's outcome."""
    questionnaire = result.get("questionnaire") or {}
    missing = {m["fact"]: m for m in result.get("missing", [])}
    out = []
    for number, item in enumerate(questionnaire.get("item", []), 1):
        outcomes = {o["value"]: o["outcome"] for o in missing.get(item["linkId"], {}).get("options", [])}
        out.append(
            {
                "number": number,
                "link_id": item["linkId"],
                "text": item["text"],
                "why": missing.get(item["linkId"], {}).get("text", ""),
                "options": [
                    {
                        "index": i,
                        "code": o["valueCoding"]["code"],
                        "system": o["valueCoding"]["system"],
                        "outcome": outcomes.get(o["valueCoding"]["code"], ""),
                    }
                    for i, o in enumerate(item.get("answerOption", []))
                ],
            }
        )
    return out


def _study(result: dict[str, Any]) -> str:
    procedure = result.get("procedure") or {}
    return str(procedure.get("display") or "the ordered study")


def _form(
    token: str,
    result: dict[str, Any],
    *,
    status: int = 200,
    errors: list[str] | None = None,
    chosen: Any = None,
) -> Response:
    return _page(
        "questions/form.html",
        status,
        study=_study(result),
        questions=_options(result),
        token=token,
        csrf=csrf_token(link_secret(), token),
        errors=errors or [],
        chosen=chosen or {},
    )


def _rated(result: dict[str, Any], answers: list[tuple[str, str]], *, again: bool = False) -> Response:
    criteria = current_app.extensions["spine_auc.criteria"]
    category = result.get("category")
    display = criteria.categories[category]["display"] if category else None
    return _page(
        "questions/rated.html",
        study=_study(result),
        result=result,
        category=display,
        answers=answers,
        answered_by=ANSWERED_BY,
        again=again,
    )


def _answers_of(response: dict[str, Any] | None, questions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    texts = {q["link_id"]: q["text"] for q in questions}
    out = []
    for item in (response or {}).get("item", []):
        for answer in item.get("answer", []):
            out.append((texts.get(item["linkId"], item["linkId"]), answer["valueCoding"]["code"]))
    return out


def _answered_page(question: Question) -> Response:
    """A question answered before: what was answered and the rating it gave."""
    found = current_app.extensions["spine_auc.store"].get_consultation(question.answer_consultation_id or "")
    first = _first_result(question) or {}
    if found is None:
        return _problem("Already answered", "These questions have already been answered.", 409)
    return _rated(found["result"], _answers_of(question.questionnaire_response, _options(first)), again=True)


@bp.get("/<token>")
def show(token: str) -> Response:
    question = _open(token)
    if isinstance(question, Response):
        return question
    if question.answered_at is not None:
        return _answered_page(question)
    result = _first_result(question)
    if result is None or not result.get("questionnaire") or question.context is None:
        return _problem("Nothing to ask", "There is nothing to ask about this order any more.", 410)
    return _form(token, result)


def _chosen(questions: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The form's answers checked against the Questionnaire: linkId → option, and the errors."""
    chosen: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for q in questions:
        raw = request.form.get(q["link_id"], "")
        if raw == "":
            continue
        option = next((o for o in q["options"] if str(o["index"]) == raw), None)
        if option is None:
            errors.append(f"Question {q['number']}: choose one of the answers listed.")
            continue
        chosen[q["link_id"]] = option
    if not chosen and not errors:
        errors.append("Answer at least one question.")
    return chosen, errors


def _response(
    question: Question, result: dict[str, Any], chosen: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The answers as a QuestionnaireResponse (validated R4)."""
    texts = {item["linkId"]: item["text"] for item in result["questionnaire"]["item"]}
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(uuid.uuid4()),
        "questionnaire": result["questionnaire"]["url"],
        "status": "completed",
        "authored": datetime.now(UTC).isoformat(timespec="seconds"),
        "basedOn": [{"reference": question.order_ref}],
        "item": [
            {
                "linkId": link,
                "text": texts[link],
                "answer": [{"valueCoding": {"system": o["system"], "code": o["code"], "display": o["code"]}}],
            }
            for link, o in chosen.items()
        ],
    }
    if question.patient:
        response["subject"] = {"reference": f"Patient/{question.patient}"}
    validate_resource(response, expected_type="QuestionnaireResponse")
    return response


def _rerate(question: Question, response: dict[str, Any]) -> Result:
    assert question.context is not None
    record = record_from_json(question.context["record"])
    record.answers.append(response)
    criteria = current_app.extensions["spine_auc.criteria"]
    return assess_order(question.context["order"], record, criteria)


@bp.post("/<token>")
def answer(token: str) -> Response:
    question = _open(token)
    if isinstance(question, Response):
        return question
    if not csrf_ok(link_secret(), token, request.form.get("csrf", "")):
        return _problem(
            "Form not accepted", "This form was not sent from its page. Open the link again.", 400
        )
    if question.answered_at is not None:
        return _answered_page(question)
    result = _first_result(question)
    if result is None or not result.get("questionnaire") or question.context is None:
        return _problem("Nothing to ask", "There is nothing to ask about this order any more.", 410)
    questions = _options(result)
    chosen, errors = _chosen(questions)
    if errors:
        picked = {k: v["index"] for k, v in chosen.items()}
        return _form(token, result, status=400, errors=errors, chosen=picked)
    try:
        response = _response(question, result, chosen)
    except InvalidInput as err:
        log.error("QuestionnaireResponse for %s failed R4 validation: %s", question.consultation_id, err)
        return _form(token, result, status=400, errors=["These answers could not be recorded."])
    rerated = _rerate(question, response)
    store = current_app.extensions["spine_auc.store"]
    store.record_consultations(
        [rerated],
        hook_instance=None,
        request_id=None,
        caller_iss=None,
        tenant=None,
        patient=question.patient,
        latency_ms=rerated.latency_ms or 0.0,
    )
    questions_table = questions_store()
    assert questions_table is not None  # _open answered 404 otherwise
    if not questions_table.answer(
        question.question_id, response=response, consultation_id=rerated.consultation_id
    ):
        return _answered_page(questions_table.get(question.question_id) or question)  # answered meanwhile
    return _rated(rerated.to_json(), _answers_of(response, questions))
