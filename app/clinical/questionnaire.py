"""An insufficient-data result → the FHIR R4 ``Questionnaire`` that asks the ordering clinician (pure).

One ``choice`` item per missing fact: ``linkId`` = the fact (unknown group) name, ``text`` = its question
(the fact's text when the criteria give no question), one ``answerOption.valueCoding`` per option of
``missing[].options`` (code and display = the option in words), and on each option the outcome it would give
(extension ``…/answer-outcome``). Answers come back as a ``QuestionnaireResponse`` (see
:mod:`app.clinical.answers`). Structural validation with R4B happens in :mod:`app.fhir.models`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.clinical.result import MissingFact, Result
from app.clinical.vocabulary import Status

QUESTIONNAIRE_BASE = "https://spine-auc.org/fhir/Questionnaire"
ANSWER_SYSTEM = "https://spine-auc.org/fhir/CodeSystem/missing-fact-answer"
OUTCOME_EXT = "https://spine-auc.org/fhir/StructureDefinition/answer-outcome"
MISSING_FACT_EXT = "https://spine-auc.org/fhir/StructureDefinition/missing-fact"


def question_text(missing: MissingFact) -> str:
    """The question in words: the criteria's question, else the fact's text as a question."""
    if missing.question.strip():
        return missing.question.strip()
    text = missing.text.strip()
    return text if text.endswith("?") else f"{text}?"


def questionnaire_id(result: Result) -> str:
    """A content id: the same missing facts, options and criteria version give the same Questionnaire."""
    content = json.dumps(
        [result.criteria_version, [m.to_json() for m in result.missing]], sort_keys=True, ensure_ascii=False
    )
    return "missing-" + hashlib.sha256(content.encode()).hexdigest()[:32]


def _item(missing: MissingFact) -> dict[str, Any]:
    return {
        "linkId": missing.fact,
        "text": question_text(missing),
        "type": "choice",
        "required": False,
        "repeats": False,
        "extension": [{"url": MISSING_FACT_EXT, "valueString": missing.text}],
        "answerOption": [
            {
                "extension": [{"url": OUTCOME_EXT, "valueString": option.outcome}],
                "valueCoding": {"system": ANSWER_SYSTEM, "code": option.value, "display": option.value},
            }
            for option in missing.options
        ],
    }


def questionnaire_for(result: Result) -> dict[str, Any] | None:
    """The Questionnaire asking for ``result``'s missing facts (``None`` unless it is insufficient-data)."""
    if result.status is not Status.INSUFFICIENT_DATA or not result.missing:
        return None
    study = result.procedure.display if result.procedure else "the ordered study"
    qid = questionnaire_id(result)
    return {
        "resourceType": "Questionnaire",
        "id": qid,
        "url": f"{QUESTIONNAIRE_BASE}/{qid}",
        "version": result.criteria_version,
        "name": "MissingFacts",
        "title": f"Before {study} can be rated",
        "status": "active",
        "subjectType": ["Patient"],
        "description": (
            "The facts the appropriateness rating depends on that the record does not give; "
            "each answer is recorded as attested by the ordering clinician."
        ),
        "item": [_item(m) for m in result.missing if m.options],
    }
