"""Region concordance and the rated cell on a result (clinical-rules.md §3 step 5, §4.2). Pure.

A combined thoracic + lumbar study names every topic it was rated under; a study that does not cover the
indication's region carries a ``region`` safety warning naming the study that would, with that study's own
rating; a category taken from a lossy copy of an ACR table says so.
"""

from __future__ import annotations

from dataclasses import replace

from app.clinical.conclusion import Assessment, assess
from app.clinical.engine import Outcome, region_part
from app.clinical.facts import PatientFacts
from app.clinical.orders import OrderedProcedure
from app.clinical.result import (
    Concordant,
    ProcedureRef,
    RatedUnder,
    Result,
    SafetyEntry,
    TopicRef,
    VariantRef,
)
from app.clinical.vocabulary import Category, Indicator, Status
from app.criteria.model import Criteria

#: The provenance tag of a cell whose category comes from a lossy copy of ACR's table (§4.2, MBA‡).
UNCERTAIN_PROVENANCE = "secondary-uncertain"
LOSSY_TEXT = (
    "The category is from a lossy copy of the ACR table (the copy cannot show ACR's '(Disagreement)' flag, "
    "so it may be 'may be appropriate (disagreement)')."
)
#: Readings of a variant that clinical-rules states as interpretations: (topic, variant) → (the fact that makes
#: the reading apply, what the explanation says).
INTERPRETED_VARIANTS = {
    ("acr-thoracic-back-pain", 1): (
        "duration_subacute_or_chronic",
        "Interpretation (clinical-rules §4.2): ACR's variant 1 is acute pain; subacute or chronic pain without "
        "6 weeks of conservative care is rated under it too, as ACR's abstract does not image it either.",
    ),
}
#: The facts that name the indication's region (fact_rules.indication_region).
REGION_FACTS = ("indication_thoracic", "indication_lumbar", "indication_thoracolumbar")


def with_region_check(result: Result, a: Assessment, facts: PatientFacts, criteria: Criteria) -> Result:
    """The result with its combined-study topics, region warning and rated-cell provenance filled in."""
    outcome = a.outcome
    if outcome is None:
        return result
    if outcome.parts:
        result = _rated_under(result, outcome, criteria)
    if outcome.concordant is not None and a.procedure is not None:
        entry = _mismatch(a, outcome, facts, criteria)
        if entry is not None:
            result = replace(
                result,
                safety=(*result.safety, entry),
                explanation=f"{result.explanation} {_concordant_sentence(entry)}",
            )
    if result.status is Status.RATED and outcome.best is not None:
        result = _interpretation(result, outcome, facts)
    if result.status is Status.RATED and outcome.best is not None and outcome.best.row.provenance:
        provenance = outcome.best.row.provenance
        result = replace(result, source=replace(result.source, provenance=provenance))
        if provenance == UNCERTAIN_PROVENANCE:
            result = replace(result, explanation=f"{result.explanation} {LOSSY_TEXT}")
    return result


def _concordant_sentence(entry: SafetyEntry) -> str:
    """The study that does cover the symptoms, in one sentence for the explanation."""
    how = entry.text.split("; ")[-1]
    return f"For these symptoms: {how}." if entry.concordant is not None else ""


def _interpretation(result: Result, outcome: Outcome, facts: PatientFacts) -> Result:
    """The stated interpretation of the rated variant, when the record is the case it was made for."""
    parts = outcome.parts or (outcome,)
    for part in parts:
        reading = INTERPRETED_VARIANTS.get((str(part.topic), part.best.variant if part.best else 0))
        fact = facts.facts.get(reading[0]) if reading else None
        if reading and fact is not None and fact.value is True:
            return replace(result, explanation=f"{result.explanation} {reading[1]}")
    return result


def _words(criteria: Criteria, category: Category | str | None) -> str:
    return str(criteria.categories[str(category)]["display"]).lower() if category else "not rated"


def _rated_under(result: Result, outcome: Outcome, criteria: Criteria) -> Result:
    under = []
    for part in outcome.parts:
        topic = criteria.topics[str(part.topic)]
        variant = topic.variant(part.best.variant) if part.best else None
        under.append(
            RatedUnder(
                TopicRef(topic.id, topic.title, topic.version),
                VariantRef(variant.number, variant.text) if variant else None,
                part.category,
            )
        )
    said = "; ".join(
        f"{u.topic.title} {u.topic.version}{f' V{u.variant.number}' if u.variant else ''}: "
        f"{_words(criteria, u.category)}"
        for u in under
    )
    text = (
        f"A combined thoracic and lumbar study is rated under each topic ({said}); "
        "the lower (more cautious) category applies."
    )
    return replace(result, rated_under=tuple(under), explanation=f"{result.explanation} {text}")


def _region_words(facts: PatientFacts) -> tuple[str, tuple[str, ...]]:
    for name in REGION_FACTS:
        fact = facts.facts.get(name)
        if fact is not None and fact.value:
            return name.removeprefix("indication_"), fact.evidence
    return "unspecified", ()


def _mismatch(a: Assessment, outcome: Outcome, facts: PatientFacts, criteria: Criteria) -> SafetyEntry | None:
    assert outcome.concordant is not None and a.procedure is not None
    region, evidence = _region_words(facts)
    target = region_part(criteria, a.procedure, outcome.concordant.region)
    ordered = f"{a.procedure.display} does not image the {region} spine"
    if target is None:
        return SafetyEntry(
            "region", "mismatch", Indicator.WARNING, f"the symptoms are {region}; {ordered}", evidence
        )
    study = OrderedProcedure((target.id,), a.ordered.flags, "concordant", f"the {region} study", ())
    rated = assess(study, facts, criteria)
    topic = criteria.topics[outcome.concordant.topic]
    variant = topic.variant(rated.variant) if rated.variant and rated.status is Status.RATED else None
    category = rated.category if rated.status is Status.RATED else None
    if category is not None and rated.topic is not None:
        topic = rated.topic
        how = f"{target.display} is {_words(criteria, category)} ({topic.title}{f' V{variant.number}' if variant else ''})"
    else:
        how = f"{target.display} would cover them ({topic.title}: {rated.status.value.replace('-', ' ')})"
    return SafetyEntry(
        "region",
        "mismatch",
        Indicator.WARNING,
        f"the symptoms are {region}; {ordered}; {how}",
        evidence,
        Concordant(
            ProcedureRef(target.id, target.display, ()),
            TopicRef(topic.id, topic.title, topic.version),
            VariantRef(variant.number, variant.text) if variant else None,
            category,
        ),
    )
