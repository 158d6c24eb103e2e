"""The criteria as the engine sees them: frozen, indexed, standard library only.

Built once by :mod:`app.criteria.loader` from the validated JSON files; never mutated afterwards. Each type
reads its own part of a validated document (``from_doc``): the JSON Schemas in ``criteria/schemas`` say what a
document may contain, these constructors say what the engine keeps of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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
#: A part of a criteria file that its JSON Schema has already validated.
Doc = Mapping[str, Any]


@dataclass(frozen=True)
class Procedure:
    id: str
    display: str
    modality: str
    region: str
    contrast: str
    spine_imaging: str  # yes | if-spine-reason | no
    codes: tuple[dict[str, str], ...] = ()  # codings to emit when we suggest this procedure

    @classmethod
    def from_doc(cls, doc: Doc, codes: tuple[dict[str, str], ...] = ()) -> Procedure:
        return cls(
            id=doc["id"],
            display=doc["display"],
            modality=doc["modality"],
            region=doc["region"],
            contrast=doc["contrast"],
            spine_imaging=doc["spineImaging"],
            codes=codes,
        )


@dataclass(frozen=True)
class CodeEntry:
    system: str
    code: str
    display: str
    procedures: tuple[str, ...]
    flags: frozenset[str]

    @classmethod
    def from_doc(cls, doc: Doc) -> CodeEntry:
        return cls(
            system=doc["system"],
            code=doc["code"],
            display=doc.get("display", ""),
            procedures=tuple(doc["procedures"]),
            flags=frozenset(doc.get("flags", [])),
        )

    @property
    def coding(self) -> dict[str, str]:
        """The code as a FHIR Coding (emitted when this is the one unflagged code of a procedure)."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Combination:
    id: str
    text: str
    all_of: tuple[tuple[str, frozenset[str]], ...]
    procedures: tuple[str, ...]

    @classmethod
    def from_doc(cls, doc: Doc) -> Combination:
        return cls(
            id=doc["id"],
            text=doc["text"],
            all_of=tuple((group["system"], frozenset(group["codes"])) for group in doc["allOf"]),
            procedures=tuple(doc["procedures"]),
        )


@dataclass(frozen=True)
class Row:
    procedure: str
    acr_name: str
    category: str
    rating: int | None
    rrl_adult: str | None
    rrl_pediatric: str | None
    source: str
    provenance: str | None = None  # the cell's provenance tag ("P", "secondary-uncertain" …)

    @classmethod
    def from_doc(cls, doc: Doc) -> Row:
        return cls(
            procedure=doc["procedure"],
            acr_name=doc["acrName"],
            category=doc["category"],
            rating=doc["rating"],
            rrl_adult=doc["rrl"]["adult"],
            rrl_pediatric=doc["rrl"]["pediatric"],
            source=doc["source"],
            provenance=doc.get("provenance"),
        )


@dataclass(frozen=True)
class Variant:
    number: int
    text: str
    when: Expr
    rows: tuple[Row, ...]
    rows_complete: bool
    source: str
    scenarios: tuple[dict[str, str], ...]

    @classmethod
    def from_doc(cls, doc: Doc) -> Variant:
        return cls(
            number=doc["number"],
            text=doc["text"],
            when=doc["when"],
            rows=tuple(Row.from_doc(row) for row in doc["rows"]),
            rows_complete=doc["rowsComplete"],
            source=doc["source"],
            scenarios=tuple(doc.get("scenarios", [])),
        )


@dataclass(frozen=True)
class RowCoverage:
    """A topic's own widening of which ordered regions a row's region covers (``rowCoverage`` in a topic)."""

    modality: str
    region: str  # the row's region (e.g. complete-spine)
    covers: frozenset[str]  # ordered regions of the same modality and contrast that the row then rates
    text: str  # what the explanation says of a study rated this way
    source: str

    @classmethod
    def from_doc(cls, doc: Doc) -> RowCoverage:
        return cls(
            modality=doc["modality"],
            region=doc["region"],
            covers=frozenset(doc["covers"]),
            text=doc["text"],
            source=doc["source"],
        )


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
    row_coverage: tuple[RowCoverage, ...] = ()  # beyond settings regionCoverage, for this topic only

    @classmethod
    def from_doc(cls, doc: Doc) -> Topic:
        return cls(
            id=doc["id"],
            title=doc["title"],
            version=doc["version"],
            citation=doc["citation"],
            url=doc["url"],
            population=doc["population"],
            source=doc["source"],
            variants=tuple(Variant.from_doc(variant) for variant in doc["variants"]),
            precedence=tuple(doc["variantPrecedence"]),
            row_coverage=tuple(RowCoverage.from_doc(c) for c in doc.get("rowCoverage", ())),
        )

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

    @classmethod
    def from_doc(cls, doc: Doc, normalise: Callable[[str, str], str]) -> ValueSet:
        """``normalise(system, code)`` is the form codes are compared in (e.g. ICD-10-CM without the dot)."""
        prefix: dict[str, list[tuple[str, frozenset[str] | None, bool]]] = {}
        exact: dict[str, dict[str, bool]] = {}
        names: list[str] = []
        for inc in doc["include"]:
            seventh = frozenset(inc["seventhCharacter"]) if inc.get("seventhCharacter") else None
            for code in inc["codes"]:
                weak = bool(code.get("weak", False))
                if inc["match"] == "name":
                    names.append(code["code"].lower())
                elif inc["match"] == "prefix":
                    key = normalise(inc["system"], code["code"])
                    prefix.setdefault(inc["system"], []).append((key, seventh, weak))
                else:
                    exact.setdefault(inc["system"], {})[normalise(inc["system"], code["code"])] = weak
        exclude: dict[str, list[str]] = {}
        for exc in doc.get("exclude", []):
            for code in exc["codes"]:
                exclude.setdefault(exc["system"], []).append(normalise(exc["system"], code["code"]))
        return cls(
            id=doc["id"],
            title=doc["title"],
            prefix={system: tuple(entries) for system, entries in prefix.items()},
            exact=exact,
            names=tuple(names),
            exclude_prefix={system: tuple(codes) for system, codes in exclude.items()},
        )


@dataclass(frozen=True)
class RegionTopic:
    """A topic and the study region it rates (a combined study is rated by its part of that region)."""

    topic: str
    region: str


@dataclass(frozen=True)
class RoutingRule:
    id: str
    when: Expr
    topic: str | None
    text: str
    also: tuple[RegionTopic, ...] = ()  # combined study: rated under each, the lower category (§3 step 5)
    concordant: RegionTopic | None = None  # region mismatch: the study that would cover the indication

    @classmethod
    def from_doc(cls, doc: Doc) -> RoutingRule:
        concordant = doc.get("concordant")
        return cls(
            id=doc["id"],
            when=doc["when"],
            topic=doc["topic"],
            text=doc["text"],
            also=tuple(RegionTopic(t["topic"], t["region"]) for t in doc.get("ratedUnder", ())),
            concordant=RegionTopic(concordant["topic"], concordant["region"]) if concordant else None,
        )


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

    @classmethod
    def from_doc(cls, doc: Doc) -> Modifier:
        variants = doc.get("variants")
        return cls(
            id=doc["id"],
            title=doc["title"],
            effect=doc["effect"],
            indicator=doc["indicator"],
            when=doc["when"],
            applies_to=doc["appliesTo"],
            variants={topic: tuple(numbers) for topic, numbers in variants.items()} if variants else None,
            category=doc["category"],
            text=doc["text"],
            alternative=doc.get("alternative"),
            source_text=doc["sourceText"],
            source=doc["source"],
        )


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
