"""The outputs of clinical-rules §4.3/§7 built from an assessment: questions, merged options, assumptions.

``missing[]``: each unknown fact gets its question in words (the fact rule's :class:`UnknownGroup` question, else
one built from the group's text) and its options merged — answers with the same outcome are one line
("28 days or more → …"). ``assumptions[]``: the values a setting made the engine assume, when the assumed fact
was among those the outcome was decided on. Pure: standard library only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.clinical.facts import PatientFacts
from app.clinical.result import MissingFact, Option, StatedAssumption

if TYPE_CHECKING:
    from app.clinical.conclusion import Assessment

#: A numeric option label of :func:`app.clinical.fact_rules.numeric_options`: "28", "28–83", "84 … or more".
_RANGE = re.compile(r"^(?P<lo>\d+(?:\.\d+)?)(?:–(?P<hi>\d+(?:\.\d+)?))? (?P<unit>[a-z]+)(?P<more> or more)?$")


def question_for(fact: str, text: str, facts: PatientFacts) -> str:
    """The question for a missing fact: the rule's own, else one made from what is unknown."""
    group = facts.groups.get(fact)
    if group is not None and group.question:
        return group.question
    subject = text.rstrip(".").strip() or fact.replace("_", " ")
    return f"Can you confirm: {subject[0].lower()}{subject[1:]}?"


def merge_labels(labels: list[str]) -> str:
    """Answers that give the same outcome as one label: adjacent numeric ranges join ("28 days or more")."""
    if len(labels) == 1:
        return labels[0]
    parsed = [_RANGE.match(label) for label in labels]
    if all(parsed) and len({m["unit"] for m in parsed if m}) == 1:
        first, last = parsed[0], parsed[-1]
        assert first is not None and last is not None
        unit = first["unit"]
        if last["more"]:
            return f"{first['lo']} {unit} or more"
        return f"{first['lo']}–{last['hi'] or last['lo']} {unit}"
    return " or ".join(labels)


def merged_options(options: tuple[Option, ...]) -> tuple[Option, ...]:
    """One option per distinct outcome, in the order the outcomes first appear."""
    by_outcome: dict[str, list[str]] = {}
    for option in options:
        by_outcome.setdefault(option.outcome, []).append(option.value)
    return tuple(Option(merge_labels(labels), outcome) for outcome, labels in by_outcome.items())


def merged_missing(missing: tuple[MissingFact, ...], facts: PatientFacts) -> tuple[MissingFact, ...]:
    """Each missing fact with its question and merged options."""
    return tuple(
        MissingFact(
            m.fact,
            m.text,
            merged_options(m.options),
            m.question or question_for(m.fact, m.text, facts),
        )
        for m in missing
    )


def stated_assumptions(a: Assessment, facts: PatientFacts) -> tuple[StatedAssumption, ...]:
    """The assumptions whose fact the outcome was decided on (an assumption that did not matter is not said)."""
    used = {c.fact for c in a.considered} | {r.fact for r in a.reasons}
    return tuple(
        StatedAssumption(fact, assumption.value, assumption.text, assumption.setting)
        for fact, assumption in facts.assumptions.items()
        if fact in used
    )
