"""The outputs of clinical-rules §4.3/§7 built from an assessment: questions, merged options, assumptions.

``missing[]``: each unknown fact gets its question in words (the fact rule's :class:`UnknownGroup` question, else
one built from the group's text) and its options merged — answers with the same outcome are one line
("28 days or more → …"). ``assumptions[]``: the values a setting made the engine assume, when the assumed fact
was among those the outcome was decided on. Pure: standard library only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.clinical.facts import PatientFacts
from app.clinical.result import MissingFact, Option, Reason, StatedAssumption
from app.criteria.model import Criteria

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


def constituent(labels: list[str], merged: str) -> str | None:
    """The first of ``labels`` a merged option stands for (every one gives the same outcome), else None."""
    wanted = merged.casefold()
    exact = next((label for label in labels if label.casefold() == wanted), None)
    if exact is not None:
        return exact
    parts = [p.casefold() for p in merged.split(" or ")]
    by_word = next((label for label in labels if label.casefold() == parts[0]), None)
    if by_word is not None and len(parts) > 1:
        return by_word
    m = _RANGE.match(merged)
    if m is None:
        return None
    for label in labels:
        found = _RANGE.match(label)
        if found is not None and found["lo"] == m["lo"] and found["unit"] == m["unit"]:
            return label
    return None


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


def _value(expr: Any, values: dict[str, bool | None], criteria: Criteria) -> bool | None:
    """A variant's ``when`` over three-valued facts (Kleene logic; derived facts expanded)."""
    if "fact" in expr:
        name = expr["fact"]
        if name in criteria.derived_facts:
            return _value(criteria.derived_facts[name], values, criteria)
        return values.get(name)
    if "not" in expr:
        inner = _value(expr["not"], values, criteria)
        return None if inner is None else not inner
    parts = [_value(e, values, criteria) for e in expr.get("all", expr.get("any", []))]
    if "all" in expr:
        return False if False in parts else (None if None in parts else True)
    if "any" in expr:
        return True if True in parts else (None if None in parts else False)
    return None


#: id(expression) → (the expression, the facts it reads with derived facts expanded): see :func:`_reads`
_READS: dict[int, tuple[Any, frozenset[str]]] = {}


def _reads(expr: Any, criteria: Criteria) -> frozenset[str]:
    """Every fact :func:`_value` may look up for ``expr`` (criteria expressions are never mutated)."""
    memo = _READS.get(id(expr))
    if memo is not None and memo[0] is expr:
        return memo[1]
    names: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if "fact" in node:
            name = node["fact"]
            if name in criteria.derived_facts:
                stack.append(criteria.derived_facts[name])
            else:
                names.add(name)
        elif "not" in node:
            stack.append(node["not"])
        else:
            stack.extend(node.get("all", node.get("any", [])))
    if len(_READS) >= 4096:
        _READS.clear()
    found = frozenset(names)
    _READS[id(expr)] = (expr, found)
    return found


def _matters(fact: str, a: Assessment, facts: PatientFacts, criteria: Criteria) -> bool:
    """Whether taking the assumed value the other way would change which variants match (only a variant
    whose condition reads the fact can change)."""
    if a.topic is None:
        return False
    whens = [v.when for v in a.topic.variants if v.when and fact in _reads(v.when, criteria)]
    if not whens:
        return False
    values = {name: f.value for name, f in facts.facts.items()}
    flipped = {**values, fact: None if values.get(fact) is None else not values[fact]}
    return any(_value(when, values, criteria) != _value(when, flipped, criteria) for when in whens)


def stated_assumptions(
    a: Assessment, facts: PatientFacts, criteria: Criteria
) -> tuple[StatedAssumption, ...]:
    """The assumptions that decided the outcome (an assumption that did not matter is not said)."""
    return tuple(
        StatedAssumption(fact, assumption.value, assumption.text, assumption.setting)
        for fact, assumption in facts.assumptions.items()
        if _matters(fact, a, facts, criteria)
    )


def settled_reasons(
    reasons: tuple[Reason, ...], facts: PatientFacts, criteria: Criteria
) -> tuple[Reason, ...]:
    """The reasons without a derived summary the record leaves open ("red flag: no" while infection is asked)."""
    values = {name: f.value for name, f in facts.facts.items()}
    return tuple(
        r
        for r in reasons
        if r.fact not in criteria.derived_facts or _value({"fact": r.fact}, values, criteria) is not None
    )
