"""The criteria as the engine sees them: frozen, indexed, standard library only.

Built once by :mod:`app.criteria.loader` from the validated JSON files; never mutated afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"

CATEGORIES = (
    "usually-appropriate",
    "may-be-appropriate",
    "may-be-appropriate-disagreement",
    "usually-not-appropriate",
)

Expr = dict[str, Any]


@dataclass(frozen=True)
class Procedure:
    id: str
    display: str
    modality: str
    region: str
    contrast: str
    spine_imaging: str  # yes | if-spine-reason | no
    codes: tuple[dict[str, str], ...] = ()  # codings to emit when we suggest this procedure


@dataclass(frozen=True)
class CodeEntry:
    system: str
    code: str
    display: str
    procedures: tuple[str, ...]
    flags: frozenset[str]


@dataclass(frozen=True)
class Combination:
    id: str
    text: str
    all_of: tuple[tuple[str, frozenset[str]], ...]
    procedures: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    procedure: str
    acr_name: str
    category: str
    rating: int | None
    rrl_adult: str | None
    rrl_pediatric: str | None
    source: str


@dataclass(frozen=True)
class Variant:
    number: int
    text: str
    when: Expr
    rows: tuple[Row, ...]
    rows_complete: bool
    source: str
    scenarios: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    version: str
    citation: str
    url: str
    population: str
    source: str
    variants: tuple[Variant, ...]
    precedence: tuple[int, ...]

    def variant(self, number: int) -> Variant:
        return next(v for v in self.variants if v.number == number)


@dataclass(frozen=True)
class ValueSet:
    id: str
    title: str
    prefix: dict[
        str, tuple[tuple[str, frozenset[str] | None, bool], ...]
    ]  # system -> (prefix, 7th chars, weak)
    exact: dict[str, dict[str, bool]]  # system -> code -> weak
    names: tuple[str, ...]
    exclude_prefix: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingRule:
    id: str
    when: Expr
    topic: str | None
    text: str


@dataclass(frozen=True)
class Modifier:
    id: str
    title: str
    effect: str
    indicator: str | None
    when: Expr | None
    applies_to: Expr | None
    variants: dict[str, tuple[int, ...]] | None
    category: str | None
    text: str
    alternative: dict[str, Any] | None
    source_text: str
    source: str


@dataclass(frozen=True)
class Criteria:
    version: str
    topics: dict[str, Topic]
    procedures: dict[str, Procedure]
    codes: dict[tuple[str, str], CodeEntry]
    combinations: tuple[Combination, ...]
    value_sets: dict[str, ValueSet]
    thresholds: dict[str, float]
    threshold_texts: dict[str, str]
    categories: dict[str, dict[str, Any]]
    pama: dict[str, str]
    rrl_order: tuple[str, ...]
    region_coverage: dict[str, frozenset[str]]
    fact_sources: dict[str, dict[str, Any]]
    fact_texts: dict[str, str]
    uncodable_facts: dict[str, str]
    derived_facts: dict[str, Expr]
    routing: tuple[RoutingRule, ...]
    routing_otherwise_text: str
    modifiers: tuple[Modifier, ...]
    text_patterns: dict[str, dict[str, tuple[str, ...]]]
    #: value-set index: (system, normalised code) -> ((value set id, weak), ...)
    vs_exact: dict[tuple[str, str], tuple[tuple[str, bool], ...]] = field(default_factory=dict)
    #: value-set index: system -> prefix -> ((value set id, allowed 7th characters, weak), ...)
    vs_prefix: dict[str, dict[str, tuple[tuple[str, frozenset[str] | None, bool], ...]]] = field(
        default_factory=dict
    )
    #: one whole-word alternation of ingredient names per value set that has names
    vs_name_patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def threshold(self, name: str) -> float:
        return self.thresholds[name]

    def category_rank(self, category: str) -> int:
        return int(self.categories[category]["rank"])

    def midpoint(self, category: str) -> int:
        return int(self.categories[category]["midpoint"])

    def rrl_rank(self, rrl: str | None) -> int:
        if rrl is None or rrl not in self.rrl_order:
            return len(self.rrl_order)
        return self.rrl_order.index(rrl)
