"""The appropriateness engine: routing, variants, unknowns, modifiers, alternatives (clinical-rules.md §3–§6).

Pure: standard library only, no Flask, HTTP or FHIR parsing. ``evaluate`` decides an order for one set of
facts. Unknown facts are handled by exploration: the decision runs with three-valued (Kleene) logic, and
whenever an outcome hinges on an unknown fact it is run again once per consistent value of that fact's
group. Outcomes that agree give a rating (and say which unknowns did not matter); outcomes that differ
give ``insufficient-data`` with what each possible answer would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from app.clinical.facts import Fact, PatientFacts
from app.clinical.orders import OrderedProcedure
from app.criteria.model import Criteria, Expr, Procedure, Row, Topic


class _NeedGroup(Exception):
    def __init__(self, group: str):
        super().__init__(group)
        self.group = group


@dataclass(frozen=True)
class Rated:
    variant: int
    row: Row
    category: str
    modifiers: tuple[str, ...]


@dataclass
class Outcome:
    status: str  # rated | no-criteria
    topic: str | None
    procedure: str
    category: str | None = None
    best: Rated | None = None
    matched: tuple[int, ...] = ()
    ratings: tuple[Rated, ...] = ()
    modifiers: tuple[str, ...] = ()
    text: str = ""
    used: list[str] = field(default_factory=list)
    derived: dict[str, bool | None] = field(default_factory=dict)

    def key(self) -> tuple[str, str | None]:
        """Outcomes that agree on this give a rating: same status and category (clinical-rules.md §4)."""
        return (self.status, self.category)


@dataclass
class Leaf:
    assignment: dict[str, str]  # group name -> option label
    outcome: Outcome


@dataclass
class Assessment:
    """What the engine decided for one order (rendered to the §7 contract by :mod:`app.clinical.result`)."""

    status: str
    procedure: Procedure | None
    ordered: OrderedProcedure
    topic: Topic | None = None
    variant: int | None = None
    matched_variants: tuple[int, ...] = ()
    category: str | None = None
    score: int | None = None
    score_basis: str | None = None
    rrl: str | None = None
    pama: str | None = None
    modifiers: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    unknowns_not_mattering: list[str] = field(default_factory=list)
    considered: list[dict[str, Any]] = field(default_factory=list)


class _Decision:
    """One run of the decision under a partial assignment of unknown groups."""

    def __init__(
        self, criteria: Criteria, facts: PatientFacts, ordered: OrderedProcedure, assignment: dict[str, Any]
    ):
        self.c = criteria
        self.facts = facts
        self.ordered = ordered
        self.assignment = assignment  # group -> (label, values)
        self.used: list[str] = []
        self.derived: dict[str, bool | None] = {}
        self.pending: list[str] = []

    # -- three-valued evaluation --

    def fact(self, name: str) -> bool | None:
        if name in self.c.derived_facts:
            if name not in self.used:
                self.used.append(name)
            value = self.eval3(self.c.derived_facts[name])
            self.derived[name] = value
            return value
        fact: Fact | None = self.facts.facts.get(name)
        if fact is None:
            raise KeyError(f"fact {name!r} was not computed")
        if name not in self.used:
            self.used.append(name)
        if fact.value is not None:
            return fact.value
        assert fact.group is not None
        if fact.group in self.assignment:
            return bool(self.assignment[fact.group][1][name])
        self.pending.append(fact.group)
        return None

    def eval3(self, expr: Expr) -> bool | None:
        if "all" in expr:
            values = [self.eval3(e) for e in expr["all"]]
            return False if False in values else (None if None in values else True)
        if "any" in expr:
            values = [self.eval3(e) for e in expr["any"]]
            return True if True in values else (None if None in values else False)
        if "not" in expr:
            inner = self.eval3(expr["not"])
            return None if inner is None else not inner
        if "procedure" in expr:
            proc = self.c.procedures[self.assignment["procedure"][1]["id"]]
            prop = expr["procedure"]
            if prop == "flag":
                return bool(self.ordered.flags & set(expr["in"]))
            attr = "spine_imaging" if prop == "spineImaging" else str(prop)
            return str(getattr(proc, attr)) in expr["in"]
        value = self.fact(expr["fact"])
        if value is None or "in" not in expr:
            return value
        return value in expr["in"]

    def decide(self, expr: Expr) -> bool:
        """A condition that must be decided now: branch on the first unknown group it hinges on."""
        self.pending = []
        value = self.eval3(expr)
        if value is None:
            raise _NeedGroup(self.pending[0])
        return value

    # -- the decision --

    def run(self) -> Outcome:
        if "procedure" not in self.assignment:
            raise _NeedGroup("procedure")  # an ambiguous order code: rate each study it can mean
        proc = self.c.procedures[self.assignment["procedure"][1]["id"]]
        topic_id: str | None = None
        route_text = self.c.routing_otherwise_text
        for rule in self.c.routing:
            if self.decide(rule.when):
                topic_id, route_text = rule.topic, rule.text
                break
        if topic_id is None:
            return Outcome(
                "no-criteria", None, proc.id, text=route_text, used=self.used, derived=self.derived
            )
        topic = self.c.topics[topic_id]
        matched = [v for v in topic.variants if self.decide(v.when)]
        if not matched:
            return Outcome(
                "no-criteria",
                topic.id,
                proc.id,
                text=f"no variant of {topic.title} matches",
                used=self.used,
                derived=self.derived,
            )
        ratings = []
        for v in matched:
            row = _row_for(self.c, v.rows, proc)
            if row is None:
                continue
            category, mods = row.category, cast(list[str], [])
            for mod in self.c.modifiers:
                if mod.effect != "category-override" or not mod.when or not mod.applies_to:
                    continue
                if mod.variants is not None and v.number not in mod.variants.get(topic.id, ()):
                    continue
                if self.decide(mod.applies_to) and self.decide(mod.when):
                    category, mods = str(mod.category), [*mods, mod.id]
            ratings.append(Rated(v.number, row, category, tuple(mods)))
        numbers = tuple(v.number for v in matched)
        if not ratings:
            listed = ", ".join(f"V{n}" for n in numbers)
            return Outcome(
                "no-criteria",
                topic.id,
                proc.id,
                matched=numbers,
                used=self.used,
                derived=self.derived,
                text=f"{proc.display} is not listed in {topic.title} {listed}",
            )
        best = max(
            ratings, key=lambda r: (self.c.category_rank(r.category), -topic.precedence.index(r.variant))
        )
        category, modifiers = best.category, list(best.modifiers)
        for mod in self.c.modifiers:
            if (
                mod.effect not in ("contraindicated", "protocol-warning")
                or not mod.when
                or not mod.applies_to
            ):
                continue
            if self.decide(mod.applies_to) and self.decide(mod.when):
                modifiers.append(mod.id)
                if mod.category:
                    category = mod.category
        return Outcome(
            "rated",
            topic.id,
            proc.id,
            category=category,
            best=best,
            matched=numbers,
            ratings=tuple(ratings),
            modifiers=tuple(modifiers),
            used=self.used,
            derived=self.derived,
        )


def _row_for(criteria: Criteria, rows: tuple[Row, ...], proc: Procedure) -> Row | None:
    """The row rating this procedure: same id, or same modality and contrast in a region the row covers."""
    for row in rows:
        if row.procedure == proc.id:
            return row
    for row in rows:
        target = criteria.procedures[row.procedure]
        if (
            target.modality == proc.modality
            and target.contrast == proc.contrast
            and proc.region in criteria.region_coverage.get(target.region, frozenset())
        ):
            return row
    return None


#: Above this many combinations of unknown facts, the engine stops enumerating and does not rate.
MAX_READINGS = 256


class _TooManyReadings(Exception):
    pass


def _explore(
    criteria: Criteria,
    facts: PatientFacts,
    ordered: OrderedProcedure,
    groups: dict[str, Any],
    assignment: dict[str, Any],
    leaves: list[Leaf],
) -> None:
    """Depth-first over the unknown groups a decision actually hinges on; appends one leaf per reading."""
    decision = _Decision(criteria, facts, ordered, assignment)
    try:
        outcome = decision.run()
    except _NeedGroup as need:
        for label, values in groups[need.group]:
            _explore(criteria, facts, ordered, groups, {**assignment, need.group: (label, values)}, leaves)
        return
    if len(leaves) >= MAX_READINGS:
        raise _TooManyReadings
    leaves.append(Leaf({g: v[0] for g, v in assignment.items()}, outcome))


def evaluate(ordered: OrderedProcedure, facts: PatientFacts, criteria: Criteria) -> Assessment:
    """Decide one order. ``ordered`` comes from :func:`app.clinical.orders.resolve_procedure`."""
    if not ordered.candidates:
        return Assessment("not-applicable", None, ordered, text=ordered.detail)
    procs = [criteria.procedures[p] for p in ordered.candidates]
    spine = [
        p
        for p in procs
        if p.spine_imaging == "yes" or (p.spine_imaging == "if-spine-reason" and _reason_is_back_pain(facts))
    ]
    if not spine:
        kind = (
            "a whole-body study whose order does not give back pain as its reason"
            if procs
            else "not spine imaging"
        )
        return Assessment(
            "not-applicable", procs[0] if procs else None, ordered, text=f"{procs[0].display}: {kind}"
        )
    groups: dict[str, Any] = {name: g.options for name, g in facts.groups.items()}
    groups["procedure"] = tuple((p.display, {"id": p.id}) for p in spine)
    first = {"procedure": groups["procedure"][0]} if len(spine) == 1 else {}
    leaves: list[Leaf] = []
    try:
        _explore(criteria, facts, ordered, groups, first, leaves)
    except _TooManyReadings:
        assessment = _insufficient(criteria, facts, ordered, leaves, spine, truncated=True)
        assessment.text += (
            f" (more than {MAX_READINGS} combinations of unknown facts; the possible answers listed are the "
            "first ones enumerated)"
        )
        return assessment
    keys = {leaf.outcome.key() for leaf in leaves}
    if len(keys) == 1:
        return _agreed(criteria, facts, ordered, leaves)
    return _insufficient(criteria, facts, ordered, leaves, spine)


def _reason_is_back_pain(facts: PatientFacts) -> bool:
    fact = facts.facts.get("back_pain")
    return bool(fact and fact.value and any(e.startswith("ServiceRequest/") for e in fact.evidence))


# --- assembling assessments ------------------------------------------------------------------------------------


CONTRAST_ORDER = {"none": 0, "n/a": 1, "iv": 2, "iv-wo-w": 3, "intrathecal": 4, "intradiscal": 5}

MEASURES = frozenset({"age", "duration", "management_weeks", "myelopathy_onset"})


def _reasons(
    criteria: Criteria, facts: PatientFacts, outcome: Outcome, used: list[str]
) -> list[dict[str, Any]]:
    """The decisive facts: derived red-flag summaries, positive findings, and the measurements that decided."""
    out: dict[str, dict[str, Any]] = {}
    for name in used:
        if name in criteria.derived_facts:
            value = outcome.derived.get(name)
            if value is None:
                continue
            members = [f for f in _facts_of(criteria.derived_facts[name]) if f in facts.facts]
            positive = [facts.facts[f] for f in members if facts.facts[f].value is True]
            evidence = [e for f in positive for e in f.evidence]
            text = criteria.fact_texts.get(name, name)
            detail = "; ".join(f.text for f in positive) if positive else "none recorded"
            out[name] = {
                "fact": name,
                "value": value,
                "text": f"{text}: {'yes' if value else 'no'} ({detail})",
                "evidence": list(dict.fromkeys(evidence)),
            }
            continue
        fact = facts.facts[name]
        if fact.value is None:
            continue
        reported, value = fact.reported_as if fact.reported_as else (name, fact.value)
        if reported in out or not (fact.value is True or reported in MEASURES):
            continue
        out[reported] = {"fact": reported, "value": value, "text": fact.text, "evidence": list(fact.evidence)}
    return list(out.values())


def _considered(facts: PatientFacts, used: list[str]) -> list[dict[str, Any]]:
    return [{"fact": n, "value": facts.facts[n].value} for n in used if n in facts.facts]


def _agreed(
    criteria: Criteria, facts: PatientFacts, ordered: OrderedProcedure, leaves: list[Leaf]
) -> Assessment:
    # Report a reading that assumes nothing unknown: modifiers true under only some readings are not reported.
    common = set.intersection(*(set(leaf.outcome.modifiers) for leaf in leaves))
    outcome = next((lf.outcome for lf in leaves if set(lf.outcome.modifiers) == common), leaves[0].outcome)
    if set(outcome.modifiers) != common:
        outcome.modifiers = tuple(m for m in outcome.modifiers if m in common)
    proc = criteria.procedures[outcome.procedure]
    branched = sorted(
        g
        for g in {g for leaf in leaves for g in leaf.assignment if g != "procedure"}
        if len({leaf.assignment.get(g) for leaf in leaves}) > 1
    )
    not_mattering = [facts.groups[g].text for g in branched]
    if len(leaves) > 1 and len({leaf.outcome.procedure for leaf in leaves}) > 1:
        not_mattering.append("which study the order means (its code is ambiguous)")
    topic = criteria.topics[outcome.topic] if outcome.topic else None
    used = list(dict.fromkeys(n for leaf in leaves for n in leaf.outcome.used))
    assessment = Assessment(
        outcome.status,
        proc,
        ordered,
        topic=topic,
        reasons=_reasons(criteria, facts, outcome, used),
        text=outcome.text,
        unknowns_not_mattering=not_mattering,
        considered=_considered(facts, used),
    )
    assessment.matched_variants = tuple(sorted({n for leaf in leaves for n in leaf.outcome.matched}))
    if outcome.status != "rated":
        assessment.pama = criteria.pama["no-criteria"]
        if outcome.matched:
            assessment.variant = outcome.matched[0]
        return assessment
    assert outcome.best is not None and outcome.category is not None and topic is not None
    best = outcome.best
    assessment.variant = best.variant
    assessment.category = outcome.category
    overridden = outcome.category != best.row.category
    if best.row.rating is not None and not overridden:
        assessment.score, assessment.score_basis = best.row.rating, "panel-rating"
    else:
        assessment.score, assessment.score_basis = criteria.midpoint(outcome.category), "category-midpoint"
    pediatric = facts.facts.get("age_under_18")
    use_peds = bool(pediatric and pediatric.value)
    assessment.rrl = best.row.rrl_pediatric if use_peds else best.row.rrl_adult
    assessment.pama = criteria.pama[outcome.category]
    assessment.modifiers = _modifier_entries(criteria, facts, outcome)
    assessment.alternatives = _alternatives(criteria, facts, leaves, proc, outcome, use_peds)
    return assessment


def _modifier_entries(criteria: Criteria, facts: PatientFacts, outcome: Outcome) -> list[dict[str, Any]]:
    entries = []
    for mod_id in outcome.modifiers:
        mod = next(m for m in criteria.modifiers if m.id == mod_id)
        evidence: list[str] = []
        for name in _facts_of(mod.when):
            evidence += list(facts.facts[name].evidence) if name in facts.facts else []
        entries.append(
            {
                "id": mod.id,
                "title": mod.title,
                "effect": mod.effect,
                "indicator": mod.indicator,
                "text": mod.text,
                "evidence": list(dict.fromkeys(evidence)),
                "source": mod.source,
                "sourceText": mod.source_text,
            }
        )
    return entries


def _facts_of(expr: Expr | None) -> list[str]:
    if not expr:
        return []
    out = [expr["fact"]] if "fact" in expr else []
    for key in ("all", "any"):
        for sub in expr.get(key, []):
            out += _facts_of(sub)
    return out + (_facts_of(expr["not"]) if "not" in expr else [])


def concretize(criteria: Criteria, row_proc: Procedure, ordered: Procedure) -> Procedure:
    """A row named for a region group ("spine area of interest") → the orderable study of the ordered region."""
    if row_proc.codes or row_proc.region == ordered.region:
        return row_proc
    for p in criteria.procedures.values():
        if (
            p.modality == row_proc.modality
            and p.contrast == row_proc.contrast
            and p.region == ordered.region
            and ordered.region in criteria.region_coverage.get(row_proc.region, frozenset())
        ):
            return p
    return row_proc


def _alternatives(
    criteria: Criteria, facts: PatientFacts, leaves: list[Leaf], proc: Procedure, outcome: Outcome, peds: bool
) -> list[dict[str, Any]]:
    ordered_rank = criteria.category_rank(str(outcome.category))
    mr_unsafe = "M1" in outcome.modifiers
    best: dict[str, tuple[str, Row, int]] = {}
    for leaf in leaves:
        topic = criteria.topics[str(leaf.outcome.topic)]
        for rated in leaf.outcome.ratings:
            for row in topic.variant(rated.variant).rows:
                rank = criteria.category_rank(row.category)
                if row.procedure in best and criteria.category_rank(best[row.procedure][0]) >= rank:
                    continue
                best[row.procedure] = (row.category, row, rated.variant)
    mod = next((m for m in criteria.modifiers if m.id == "M1"), None)
    if mr_unsafe and mod and mod.alternative:
        source = next(
            (
                c
                for c, r, _ in best.values()
                if criteria.procedures[r.procedure].modality == mod.alternative["categoryFrom"]["modality"]
                and criteria.procedures[r.procedure].contrast == mod.alternative["categoryFrom"]["contrast"]
            ),
            None,
        )
        ctm = next(
            (
                p
                for p in criteria.procedures.values()
                if p.modality == mod.alternative["modality"] and p.region == proc.region
            ),
            None,
        )
        if ctm and source:
            ctm_row = next(
                (r for _, r, _ in best.values() if criteria.procedures[r.procedure].modality == "CTM"), None
            )
            best[ctm.id] = (
                source,
                ctm_row or Row(ctm.id, ctm.display, source, None, None, None, mod.source),
                -1,
            )
    out = []
    for pid, (category, row, variant) in best.items():
        target = criteria.procedures[pid]
        if pid == proc.id or (variant != -1 and _row_for(criteria, (row,), proc) is not None):
            continue  # the ordered study itself (or the row that rated it)
        if mr_unsafe and target.modality in ("MR", "MRA"):
            continue
        rank = criteria.category_rank(category)
        if rank <= ordered_rank:
            continue
        concrete = concretize(criteria, target, proc)
        rrl = row.rrl_pediatric if peds else row.rrl_adult
        out.append(
            {
                "procedure": {"id": concrete.id, "display": concrete.display, "codes": list(concrete.codes)},
                "category": category,
                "score": criteria.midpoint(category),
                "scoreBasis": "category-midpoint",
                "rrl": rrl,
                "pamaRating": criteria.pama[category],
                "variant": variant if variant > 0 else None,
                "recommendedBy": "M1" if variant == -1 else None,
                "_sort": (
                    -rank,
                    0 if concrete.region == proc.region else 1,
                    criteria.rrl_rank(rrl),
                    0 if variant == -1 else 1,
                    CONTRAST_ORDER.get(concrete.contrast, 9),  # on a tie, the less invasive study first
                ),
            }
        )
    out.sort(key=lambda a: cast(tuple[int, int, int, int, int], a["_sort"]))
    for a in out:
        del a["_sort"]
    return out


def _insufficient(
    criteria: Criteria,
    facts: PatientFacts,
    ordered: OrderedProcedure,
    leaves: list[Leaf],
    spine: list[Procedure],
    *,
    truncated: bool = False,
) -> Assessment:
    proc = spine[0]
    branched = [
        g
        for g in dict.fromkeys(g for leaf in leaves for g in leaf.assignment)
        if (truncated and (g != "procedure" or len(spine) > 1))
        or len({leaf.assignment.get(g) for leaf in leaves}) > 1
    ]
    missing: list[dict[str, Any]] = []
    for group in branched:
        if group == "procedure":
            text, name = "Which study is meant: the order's code does not say (e.g. contrast)", "procedure"
        else:
            text, name = facts.groups[group].text, group
        options = []
        labels = list(dict.fromkeys(leaf.assignment[group] for leaf in leaves if group in leaf.assignment))
        for label in labels:
            outcomes = {
                _describe(criteria, leaf.outcome) for leaf in leaves if leaf.assignment.get(group) == label
            }
            options.append({"value": label, "outcome": " or ".join(sorted(outcomes))})
        missing.append({"fact": name, "text": text, "options": options})
    used = list(dict.fromkeys(n for leaf in leaves for n in leaf.outcome.used))
    topics = {leaf.outcome.topic for leaf in leaves}
    topic = criteria.topics[next(iter(topics))] if len(topics) == 1 and None not in topics else None  # type: ignore[index]
    return Assessment(
        "insufficient-data",
        proc,
        ordered,
        topic=topic,
        reasons=_reasons(criteria, facts, leaves[0].outcome, used),
        missing=missing,
        considered=_considered(facts, used),
        matched_variants=tuple(sorted({n for leaf in leaves for n in leaf.outcome.matched})),
        text="Missing data could change the answer: " + "; ".join(m["text"] for m in missing),
    )


def _describe(criteria: Criteria, outcome: Outcome) -> str:
    if outcome.status != "rated":
        return "no criteria apply"
    topic = criteria.topics[str(outcome.topic)]
    category = criteria.categories[str(outcome.category)]["display"].lower()
    variant = f" V{outcome.best.variant}" if outcome.best else ""
    mods = f" ({', '.join(outcome.modifiers)})" if outcome.modifiers else ""
    return f"{topic.title}{variant}: {category}{mods}"
