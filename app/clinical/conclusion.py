"""The engine's readings → the assessment of one order (clinical-rules.md §4, §7).

Readings that agree give a rating with its reasons, modifiers and better alternatives, and say which unknowns
did not matter; readings that differ give ``insufficient-data`` with each missing fact and what each possible
answer would give. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.clinical.alternatives import alternatives
from app.clinical.engine import MAX_READINGS, Exploration, NotApplicable, Outcome, Reading, explore, facts_in
from app.clinical.facts import PatientFacts
from app.clinical.orders import OrderedProcedure
from app.clinical.result import (
    Alternative as AlternativeStudy,
)
from app.clinical.result import (
    AppliedModifier,
    FactConsidered,
    MissingFact,
    Option,
    Reason,
    ReasonValue,
    SafetyEntry,
)
from app.clinical.vocabulary import Category, Indicator, PamaRating, ScoreBasis, Status
from app.criteria.model import Criteria, Procedure, Topic

#: Facts whose value is a measurement or a label: reported whatever their value (others only when present).
MEASURES = frozenset({"age", "duration", "management_weeks", "myelopathy_onset"})

AMBIGUOUS_ORDER_TEXT = "Which study is meant: the order's code does not say (e.g. contrast)"


@dataclass(frozen=True)
class Assessment:
    """What was decided for one order (rendered to a :class:`app.clinical.result.Result` by ``report``)."""

    status: Status
    procedure: Procedure | None
    ordered: OrderedProcedure
    topic: Topic | None = None
    variant: int | None = None
    matched_variants: tuple[int, ...] = ()
    category: Category | None = None
    score: int | None = None
    score_basis: ScoreBasis | None = None
    rrl: str | None = None
    pama: PamaRating | None = None
    modifiers: tuple[AppliedModifier, ...] = ()
    reasons: tuple[Reason, ...] = ()
    missing: tuple[MissingFact, ...] = ()
    alternatives: tuple[AlternativeStudy, ...] = ()
    text: str = ""
    unknowns_not_mattering: tuple[str, ...] = ()
    considered: tuple[FactConsidered, ...] = ()
    readings: tuple[Reading, ...] = ()  # the readings that agreed (rated / no-criteria), for later checks
    safety: tuple[SafetyEntry, ...] = ()  # §5 safety checks (app.clinical.safety), in order of severity
    outcome: Outcome | None = None  # the reported reading (combined parts, region concordance, rated cell)


def assess(ordered: OrderedProcedure, facts: PatientFacts, criteria: Criteria) -> Assessment:
    """Decide one order (``ordered``: from :func:`app.clinical.orders.resolve_procedure`)."""
    explored = explore(ordered, facts, criteria)
    if isinstance(explored, NotApplicable):
        return Assessment(Status.NOT_APPLICABLE, explored.procedure, ordered, text=explored.text)
    if explored.agreed:
        return _agreed(criteria, facts, ordered, explored.readings)
    return _insufficient(criteria, facts, ordered, explored)


def _used(readings: Sequence[Reading]) -> list[str]:
    return list(dict.fromkeys(n for reading in readings for n in reading.outcome.used))


def _matched(readings: Sequence[Reading]) -> tuple[int, ...]:
    return tuple(sorted({n for reading in readings for n in reading.outcome.matched}))


def _reasons(
    criteria: Criteria, facts: PatientFacts, outcome: Outcome, used: list[str]
) -> tuple[Reason, ...]:
    """The decisive facts: derived red-flag summaries, positive findings, and the measurements that decided."""
    out: dict[str, Reason] = {}
    for name in used:
        if name in criteria.derived_facts:
            derived = outcome.derived.get(name)
            if derived is None:
                continue
            members = [f for f in facts_in(criteria.derived_facts[name]) if f in facts.facts]
            positive = [facts.facts[f] for f in members if facts.facts[f].value is True]
            evidence = [e for f in positive for e in f.evidence]
            text = criteria.fact_texts.get(name, name)
            detail = "; ".join(f.text for f in positive) if positive else "none recorded"
            out[name] = Reason(
                name,
                derived,
                f"{text}: {'yes' if derived else 'no'} ({detail})",
                tuple(dict.fromkeys(evidence)),
            )
            continue
        fact = facts.facts[name]
        if fact.value is None:
            continue
        value: ReasonValue
        reported, value = fact.reported_as if fact.reported_as else (name, fact.value)
        if reported in out or not (fact.value is True or reported in MEASURES):
            continue
        out[reported] = Reason(reported, value, fact.text, tuple(fact.evidence))
    return tuple(out.values())


def _considered(facts: PatientFacts, used: list[str]) -> tuple[FactConsidered, ...]:
    return tuple(FactConsidered(n, facts.facts[n].value) for n in used if n in facts.facts)


def _agreed(
    criteria: Criteria, facts: PatientFacts, ordered: OrderedProcedure, readings: Sequence[Reading]
) -> Assessment:
    # Report a reading that assumes nothing unknown: modifiers true under only some readings are not reported.
    common = set.intersection(*(set(r.outcome.modifiers) for r in readings))
    outcome = next((r.outcome for r in readings if set(r.outcome.modifiers) == common), readings[0].outcome)
    if set(outcome.modifiers) != common:
        outcome = replace(outcome, modifiers=tuple(m for m in outcome.modifiers if m in common))
    proc = criteria.procedures[outcome.procedure]
    branched = sorted(
        g
        for g in {g for r in readings for g in r.assignment if g != "procedure"}
        if len({r.assignment.get(g) for r in readings}) > 1
    )
    not_mattering = [facts.groups[g].text for g in branched]
    if len(readings) > 1 and len({r.outcome.procedure for r in readings}) > 1:
        not_mattering.append("which study the order means (its code is ambiguous)")
    topic = criteria.topics[outcome.topic] if outcome.topic else None
    used = _used(readings)
    common_fields = Assessment(
        outcome.status,
        proc,
        ordered,
        topic=topic,
        matched_variants=_matched(readings),
        reasons=_reasons(criteria, facts, outcome, used),
        text=outcome.text,
        unknowns_not_mattering=tuple(not_mattering),
        considered=_considered(facts, used),
        readings=tuple(readings),
        outcome=outcome,
    )
    if outcome.status is not Status.RATED:
        return replace(
            common_fields,
            pama=PamaRating(criteria.pama[Status.NO_CRITERIA]),
            variant=outcome.matched[0] if outcome.matched else None,
        )
    assert outcome.best is not None and outcome.category is not None and topic is not None
    best = outcome.best
    overridden = outcome.category != best.row.category
    if best.row.rating is not None and not overridden:
        score, basis = best.row.rating, ScoreBasis.PANEL_RATING
    else:
        score, basis = criteria.midpoint(outcome.category), ScoreBasis.CATEGORY_MIDPOINT
    pediatric = facts.facts.get("age_under_18")
    use_peds = bool(pediatric and pediatric.value)
    return replace(
        common_fields,
        variant=best.variant,
        category=outcome.category,
        score=score,
        score_basis=basis,
        rrl=best.row.rrl_pediatric if use_peds else best.row.rrl_adult,
        pama=PamaRating(criteria.pama[outcome.category]),
        modifiers=_modifier_entries(criteria, facts, outcome),
        alternatives=alternatives(criteria, readings, proc, outcome, use_peds),
    )


def _modifier_entries(
    criteria: Criteria, facts: PatientFacts, outcome: Outcome
) -> tuple[AppliedModifier, ...]:
    entries = []
    for mod_id in outcome.modifiers:
        mod = next(m for m in criteria.modifiers if m.id == mod_id)
        evidence: list[str] = []
        for name in facts_in(mod.when):
            evidence += list(facts.facts[name].evidence) if name in facts.facts else []
        entries.append(
            AppliedModifier(
                id=mod.id,
                title=mod.title,
                effect=mod.effect,
                indicator=Indicator(mod.indicator) if mod.indicator else None,
                text=mod.text,
                evidence=tuple(dict.fromkeys(evidence)),
                source=mod.source,
                source_text=mod.source_text,
            )
        )
    return tuple(entries)


def _insufficient(
    criteria: Criteria, facts: PatientFacts, ordered: OrderedProcedure, explored: Exploration
) -> Assessment:
    readings, spine, truncated = explored.readings, explored.spine, explored.truncated
    branched = [
        g
        for g in dict.fromkeys(g for r in readings for g in r.assignment)
        if (truncated and (g != "procedure" or len(spine) > 1))
        or len({r.assignment.get(g) for r in readings}) > 1
    ]
    missing: list[MissingFact] = []
    for group in branched:
        if group == "procedure":
            text, name = AMBIGUOUS_ORDER_TEXT, "procedure"
        else:
            text, name = facts.groups[group].text, group
        options = []
        labels = list(dict.fromkeys(r.assignment[group] for r in readings if group in r.assignment))
        for label in labels:
            outcomes = {describe(criteria, r.outcome) for r in readings if r.assignment.get(group) == label}
            options.append(Option(label, " or ".join(sorted(outcomes))))
        missing.append(MissingFact(name, text, tuple(options)))
    used = _used(readings)
    topics = {r.outcome.topic for r in readings}
    only = next(iter(topics)) if len(topics) == 1 else None
    text = "Missing data could change the answer: " + "; ".join(m.text for m in missing)
    if truncated:
        text += (
            f" (more than {MAX_READINGS} combinations of unknown facts; the possible answers listed are the "
            "first ones enumerated)"
        )
    return Assessment(
        Status.INSUFFICIENT_DATA,
        spine[0],
        ordered,
        topic=criteria.topics[only] if only is not None else None,
        reasons=_reasons(criteria, facts, readings[0].outcome, used),
        missing=tuple(missing),
        considered=_considered(facts, used),
        matched_variants=_matched(readings),
        text=text,
    )


def describe(criteria: Criteria, outcome: Outcome) -> str:
    """What one reading gives, in a few words ("Low Back Pain V3: usually appropriate (M1)")."""
    if outcome.status is not Status.RATED:
        return "no criteria apply"
    topic = criteria.topics[str(outcome.topic)]
    category = criteria.categories[str(outcome.category)]["display"].lower()
    variant = f" V{outcome.best.variant}" if outcome.best else ""
    mods = f" ({', '.join(outcome.modifiers)})" if outcome.modifiers else ""
    return f"{topic.title}{variant}: {category}{mods}"
