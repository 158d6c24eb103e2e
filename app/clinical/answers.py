"""Clinician-attested answers (a FHIR ``QuestionnaireResponse``) → facts, applied after the record's facts.

An answer names a missing fact by ``linkId`` (an unknown group, or ``procedure`` for an ambiguous order) and
one of its options (``valueCoding.code``/``display`` or ``valueString``, in words, as
:mod:`app.clinical.questionnaire` offered them). It sets the group's facts to that option's joint assignment,
exactly as the engine would branch on it, with the QuestionnaireResponse as evidence and the text saying it
was answered by the ordering clinician. Facts the record decides are never overwritten. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from app.clinical.facts import Fact, PatientFacts
from app.clinical.orders import OrderedProcedure
from app.clinical.outputs import constituent
from app.criteria.model import Criteria

ANSWERED_BY = "answered by the ordering clinician"
USABLE_STATUSES = frozenset({"completed", "amended"})
PROCEDURE_ITEM = "procedure"


@dataclass(frozen=True)
class Answer:
    """One answered question: the missing fact (group) name, the chosen option in words, its evidence."""

    item: str
    value: str
    evidence: str  # "QuestionnaireResponse/<id>"


def _ref(resource: dict[str, Any]) -> str:
    rid = resource.get("id")
    return f"QuestionnaireResponse/{rid}" if isinstance(rid, str) and rid else "QuestionnaireResponse"


def _refs(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v["reference"]) for v in items if isinstance(v, dict) and isinstance(v.get("reference"), str)]


def _same(reference: str, target: str | None) -> bool:
    """``reference`` names ``target`` ("Type/id"), also as a full URL or the bare tail."""
    if not target:
        return True
    tail = "/".join(reference.split("/")[-2:])
    return tail == "/".join(target.split("/")[-2:])


def _value(answer: dict[str, Any]) -> str | None:
    coding = answer.get("valueCoding")
    if isinstance(coding, dict):
        for key in ("code", "display"):
            if isinstance(coding.get(key), str) and coding[key].strip():
                return str(coding[key]).strip()
    if isinstance(answer.get("valueString"), str) and answer["valueString"].strip():
        return str(answer["valueString"]).strip()
    if isinstance(answer.get("valueBoolean"), bool):
        return "yes" if answer["valueBoolean"] else "no"
    return None


def answers_for(
    responses: Iterable[dict[str, Any]], *, order_ref: str, subject: str | None
) -> tuple[list[Answer], list[str]]:
    """The answers that concern this order (``basedOn`` it, or no ``basedOn``) and patient, and data issues."""
    answers: list[Answer] = []
    issues: list[str] = []
    for response in responses:
        ref = _ref(response)
        based_on = _refs(response.get("basedOn"))
        if based_on and not any(_same(r, order_ref) for r in based_on):
            continue
        subjects = _refs(response.get("subject"))
        if subjects and subject and not _same(subjects[0], subject):
            issues.append(f"{ref} is about another patient than {subject}; ignored")
            continue
        if response.get("status") not in USABLE_STATUSES:
            issues.append(f"{ref} has status {response.get('status')!r} (not completed); ignored")
            continue
        for item in response.get("item") or []:
            if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
                continue
            values = [_value(a) for a in item.get("answer") or [] if isinstance(a, dict)]
            chosen = [v for v in values if v is not None]
            if len(chosen) != 1:
                if chosen or values:
                    issues.append(f"{ref}: {item['linkId']!r} needs exactly one answer; ignored")
                continue
            answers.append(Answer(item["linkId"], chosen[0], ref))
    return answers, issues


def _option(options: Iterable[tuple[str, Any]], value: str) -> tuple[str, Any] | None:
    """The option answered; a merged option ("28 days or more", §4.3) stands for its first constituent."""
    listed = list(options)
    label = constituent([o[0] for o in listed], value)
    return next((o for o in listed if o[0] == label), None)


def apply_answers(facts: PatientFacts, answers: Iterable[Answer]) -> PatientFacts:
    """``facts`` with each answered unknown group set to the chosen option (a new object; issues noted)."""
    out = replace(facts, facts=dict(facts.facts), groups=dict(facts.groups), issues=list(facts.issues))
    for answer in answers:
        if answer.item == PROCEDURE_ITEM:
            continue
        group = out.groups.get(answer.item)
        if group is None:
            if answer.item not in facts.groups:
                out.issues.append(
                    f"{answer.evidence}: {answer.item!r} is not a fact this order is missing; not used"
                )
            continue
        option = _option(group.options, answer.value)
        if option is None:
            out.issues.append(
                f"{answer.evidence}: {answer.value!r} is not an answer to {answer.item!r}; not used"
            )
            continue
        label, assignment = option
        asked = group.question or group.text
        text = f"{asked}: {label} ({ANSWERED_BY})"
        for name, value in assignment.items():
            out.facts[name] = Fact(name, bool(value), text, (answer.evidence,), None, (group.name, label))
        del out.groups[group.name]
    return out


def apply_procedure_answer(
    ordered: OrderedProcedure, answers: Iterable[Answer], criteria: Criteria
) -> tuple[OrderedProcedure, list[str]]:
    """An ambiguous order narrowed to the study the clinician named (``linkId`` ``procedure``)."""
    issues: list[str] = []
    for answer in answers:
        if answer.item != PROCEDURE_ITEM or len(ordered.candidates) < 2:
            continue
        options = [(criteria.procedures[p].display, p) for p in ordered.candidates]
        option = _option(options, answer.value)
        if option is None:
            issues.append(f"{answer.evidence}: {answer.value!r} is not one of the studies the order can mean")
            continue
        detail = f"{ordered.detail}; the study was named by the ordering clinician ({answer.evidence})"
        ordered = replace(ordered, candidates=(option[1],), detail=detail)
    return ordered, issues
