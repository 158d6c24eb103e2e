"""The decision under unknowns: routing, variants, rows and category modifiers (clinical-rules.md §3–§5).

Pure: standard library only. :func:`explore` decides one order for one set of facts. Unknown facts are handled
by exploration: the decision runs with three-valued (Kleene) logic, and whenever an outcome hinges on an
unknown fact it is run again once per consistent value of that fact's group. Each complete run is a
:class:`Reading`; :mod:`app.clinical.conclusion` turns the readings into an assessment (readings that agree
give a rating, readings that differ give ``insufficient-data``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from app.clinical.facts import Fact, PatientFacts
from app.clinical.orders import OrderedProcedure
from app.clinical.vocabulary import Category, Status
from app.criteria.model import Criteria, Expr, Modifier, Procedure, RegionTopic, Row, RowCoverage, Topic

#: Above this many combinations of unknown facts, the engine stops enumerating and does not rate.
MAX_READINGS = 256

#: Modifier effects applied after the best row is chosen (``category-override`` applies per row).
FINAL_EFFECTS = ("contraindicated", "protocol-warning")

#: A group's option: (label, the group's facts under it); "procedure" options carry ``{"id": …}``.
GroupOption = tuple[str, dict[str, Any]]


class _NeedGroup(Exception):
    def __init__(self, group: str):
        super().__init__(group)
        self.group = group


class _TooManyReadings(Exception):
    pass


@dataclass(frozen=True)
class Rated:
    """A matched variant's rating of the ordered study (after row-level category overrides)."""

    variant: int
    row: Row
    category: Category
    modifiers: tuple[str, ...]
    coverage: RowCoverage | None = None  # the topic's rowCoverage entry through which the row rates the study


@dataclass(frozen=True)
class Outcome:
    """What one run of the decision gave."""

    status: Status  # rated | no-criteria
    topic: str | None
    procedure: str
    category: Category | None = None
    best: Rated | None = None
    matched: tuple[int, ...] = ()
    ratings: tuple[Rated, ...] = ()
    modifiers: tuple[str, ...] = ()
    text: str = ""
    used: list[str] = field(default_factory=list)
    derived: dict[str, bool | None] = field(default_factory=dict)
    parts: tuple[Outcome, ...] = ()  # a combined study: its rating under each topic (§3 step 5)
    concordant: RegionTopic | None = None  # a region mismatch: the topic and region that would cover it

    def key(self) -> tuple[Status, Category | None]:
        """Outcomes that agree on this give a rating: same status and category (clinical-rules.md §4)."""
        return (self.status, self.category)


@dataclass(frozen=True)
class Reading:
    """One consistent reading of the unknowns the decision hinged on, and its outcome."""

    assignment: dict[str, str]  # group name -> option label
    outcome: Outcome


@dataclass(frozen=True)
class NotApplicable:
    """The order is not spine imaging (or not a study the catalogue knows)."""

    procedure: Procedure | None
    text: str


@dataclass(frozen=True)
class Exploration:
    """Every reading of the unknowns the decision hinged on (the first ``MAX_READINGS`` if ``truncated``)."""

    readings: tuple[Reading, ...]
    spine: tuple[Procedure, ...]  # the spine studies the order can mean
    truncated: bool = False

    @property
    def agreed(self) -> bool:
        return not self.truncated and len({r.outcome.key() for r in self.readings}) == 1


class _Decision:
    """One run of the decision under a partial assignment of unknown groups."""

    def __init__(
        self,
        criteria: Criteria,
        facts: PatientFacts,
        ordered: OrderedProcedure,
        assignment: dict[str, GroupOption],
    ):
        self.c = criteria
        self.facts = facts
        self.ordered = ordered
        self.assignment = assignment
        self.used: list[str] = []
        self.derived: dict[str, bool | None] = {}
        self.pending: list[str] = []

    # -- three-valued evaluation --

    def fact(self, name: str) -> bool | None:
        if name in self.c.derived_facts:
            known = self.derived.get(name)
            if known is not None:  # decided once for this assignment (its facts are already in ``used``)
                return known
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
            return procedure_test(expr, proc, self.ordered.flags)
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

    def applies(self, mod: Modifier) -> bool:
        assert mod.applies_to is not None and mod.when is not None
        return self.decide(mod.applies_to) and self.decide(mod.when)

    # -- the decision --

    def run(self) -> Outcome:
        if "procedure" not in self.assignment:
            raise _NeedGroup("procedure")  # an ambiguous order code: rate each study it can mean
        proc = self.c.procedures[self.assignment["procedure"][1]["id"]]
        chosen = next((rule for rule in self.c.routing if self.decide(rule.when)), None)
        if chosen is not None and chosen.also:
            return self.rate_combined(proc, chosen.also)
        if chosen is None or chosen.topic is None:
            return Outcome(
                Status.NO_CRITERIA,
                None,
                proc.id,
                text=chosen.text if chosen else self.c.routing_otherwise_text,
                used=self.used,
                derived=self.derived,
                concordant=chosen.concordant if chosen else None,
            )
        return self.rate(self.c.topics[chosen.topic], proc)

    def rate_combined(self, proc: Procedure, under: tuple[RegionTopic, ...]) -> Outcome:
        """A combined study under each topic by its part of that region: the lower category (§3 step 5)."""
        parts = []
        for target in under:
            part = region_part(self.c, proc, target.region)
            if part is not None:
                parts.append(self.rate(self.c.topics[target.topic], part))
        rated = [o for o in parts if o.status is Status.RATED and o.category is not None]
        if not rated:
            texts = "; ".join(o.text for o in parts) or f"{proc.display}: no part of it is rated"
            return Outcome(
                Status.NO_CRITERIA, None, proc.id, text=texts, used=self.used, derived=self.derived
            )
        lowest = min(rated, key=lambda o: self.c.category_rank(o.category or ""))
        return replace(lowest, procedure=proc.id, parts=tuple(rated))

    def rate(self, topic: Topic, proc: Procedure) -> Outcome:
        """The study under one topic: matched variants, their rows, modifiers."""
        matched = [v for v in topic.variants if self.decide(v.when)]
        if not matched:
            return Outcome(
                Status.NO_CRITERIA,
                topic.id,
                proc.id,
                text=f"no variant of {topic.title} matches",
                used=self.used,
                derived=self.derived,
            )
        ratings = []
        for v in matched:
            row, coverage = rating_row(self.c, v.rows, proc, topic)
            if row is None:
                continue
            category, mods = Category(row.category), list[str]()
            for mod in self.c.modifiers:
                if mod.effect != "category-override" or not mod.when or not mod.applies_to:
                    continue
                if mod.variants is not None and v.number not in mod.variants.get(topic.id, ()):
                    continue
                if self.applies(mod):
                    category, mods = Category(str(mod.category)), [*mods, mod.id]
            ratings.append(Rated(v.number, row, category, tuple(mods), coverage))
        numbers = tuple(v.number for v in matched)
        if not ratings:
            listed = ", ".join(f"V{n}" for n in numbers)
            return Outcome(
                Status.NO_CRITERIA,
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
            if mod.effect not in FINAL_EFFECTS or not mod.when or not mod.applies_to:
                continue
            if self.applies(mod):
                modifiers.append(mod.id)
                if mod.category:
                    category = Category(mod.category)
        return Outcome(
            Status.RATED,
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


def region_part(criteria: Criteria, proc: Procedure, region: str) -> Procedure | None:
    """The study of one region with the same modality and contrast (a combined study's part, or its concordant)."""
    return next(
        (
            p
            for p in criteria.procedures.values()
            if p.region == region and p.modality == proc.modality and p.contrast == proc.contrast
        ),
        None,
    )


def procedure_test(expr: Expr, proc: Procedure, flags: frozenset[str] = frozenset()) -> bool:
    """A ``{"procedure": <property>, "in": [...]}`` test of a study (``flag``: the order's flags)."""
    prop = expr["procedure"]
    if prop == "flag":
        return bool(flags & set(expr["in"]))
    attr = "spine_imaging" if prop == "spineImaging" else str(prop)
    return str(getattr(proc, attr)) in expr["in"]


def applies_to_procedure(expr: Expr | None, proc: Procedure) -> bool:
    """Whether a modifier's ``appliesTo`` (procedure tests only) holds for a study ordered without flags."""
    if not expr:
        return False
    if "all" in expr:
        return all(applies_to_procedure(e, proc) for e in expr["all"])
    if "any" in expr:
        return any(applies_to_procedure(e, proc) for e in expr["any"])
    if "not" in expr:
        return not applies_to_procedure(expr["not"], proc)
    return procedure_test(expr, proc)


def facts_in(expr: Expr | None) -> list[str]:
    """The fact names an expression reads, in order."""
    if not expr:
        return []
    out = [expr["fact"]] if "fact" in expr else []
    for key in ("all", "any"):
        for sub in expr.get(key, []):
            out += facts_in(sub)
    return out + (facts_in(expr["not"]) if "not" in expr else [])


def row_for(
    criteria: Criteria, rows: tuple[Row, ...], proc: Procedure, topic: Topic | None = None
) -> Row | None:
    """The row rating this procedure: same id, or same modality and contrast in a region the row covers
    (settings ``regionCoverage``; then, under ``topic``, that topic's own ``rowCoverage``)."""
    return rating_row(criteria, rows, proc, topic)[0]


def rating_row(
    criteria: Criteria, rows: tuple[Row, ...], proc: Procedure, topic: Topic | None = None
) -> tuple[Row | None, RowCoverage | None]:
    """:func:`row_for`, with the topic's ``rowCoverage`` entry when the row rates the study only through it."""
    for row in rows:
        if row.procedure == proc.id:
            return row, None
    for row in rows:
        target = criteria.procedures[row.procedure]
        if (
            target.modality == proc.modality
            and target.contrast == proc.contrast
            and proc.region in criteria.region_coverage.get(target.region, frozenset())
        ):
            return row, None
    widened = topic.row_coverage if topic is not None else ()
    for row in rows:
        target = criteria.procedures[row.procedure]
        cover = next(
            (c for c in widened if (c.modality, c.region) == (target.modality, target.region)),
            None,
        )
        same_kind = (target.modality, target.contrast) == (proc.modality, proc.contrast)
        if cover is not None and same_kind and proc.region in cover.covers:
            return row, cover
    return None, None


def _explore(
    criteria: Criteria,
    facts: PatientFacts,
    ordered: OrderedProcedure,
    groups: dict[str, tuple[GroupOption, ...]],
    assignment: dict[str, GroupOption],
    readings: list[Reading],
) -> None:
    """Depth-first over the unknown groups a decision actually hinges on; appends one reading per leaf."""
    decision = _Decision(criteria, facts, ordered, assignment)
    try:
        outcome = decision.run()
    except _NeedGroup as need:
        for label, values in groups[need.group]:
            _explore(criteria, facts, ordered, groups, {**assignment, need.group: (label, values)}, readings)
        return
    if len(readings) >= MAX_READINGS:
        raise _TooManyReadings
    readings.append(Reading({g: v[0] for g, v in assignment.items()}, outcome))


def explore(
    ordered: OrderedProcedure, facts: PatientFacts, criteria: Criteria
) -> NotApplicable | Exploration:
    """Decide one order under every reading of its unknowns (``ordered``: from ``resolve_procedure``)."""
    if not ordered.candidates:
        return NotApplicable(None, ordered.detail)
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
        return NotApplicable(procs[0] if procs else None, f"{procs[0].display}: {kind}")
    groups: dict[str, tuple[GroupOption, ...]] = {name: g.options for name, g in facts.groups.items()}
    groups["procedure"] = tuple((p.display, {"id": p.id}) for p in spine)
    first = {"procedure": groups["procedure"][0]} if len(spine) == 1 else {}
    readings: list[Reading] = []
    try:
        _explore(criteria, facts, ordered, groups, first, readings)
    except _TooManyReadings:
        return Exploration(tuple(readings), tuple(spine), truncated=True)
    return Exploration(tuple(readings), tuple(spine))


def _reason_is_back_pain(facts: PatientFacts) -> bool:
    fact = facts.facts.get("back_pain")
    return bool(fact and fact.value and any(e.startswith("ServiceRequest/") for e in fact.evidence))
