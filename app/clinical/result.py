"""The result of one order (clinical-rules.md §7) as a typed, frozen value, and its JSON.

Every renderer reads this structure: the REST JSON (:meth:`Result.to_json`), the CDS card
(:mod:`app.cds.cards`), the GuidanceResponse (:mod:`app.fhir.guidance`) and the audit row
(:mod:`app.store.consultations`). Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from app.clinical.vocabulary import Category, Indicator, PamaRating, ScoreBasis, Status

Json = dict[str, Any]
ReasonValue = bool | int | float | str


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    @classmethod
    def of(cls, coding: dict[str, str]) -> Coding:
        return cls(coding["system"], coding["code"], coding.get("display"))

    def to_json(self) -> Json:
        out = {"system": self.system, "code": self.code}
        if self.display is not None:
            out["display"] = self.display
        return out


@dataclass(frozen=True)
class ProcedureRef:
    id: str
    display: str
    codes: tuple[Coding, ...]

    def to_json(self) -> Json:
        return {"id": self.id, "display": self.display, "codes": [c.to_json() for c in self.codes]}


@dataclass(frozen=True)
class TopicRef:
    id: str
    title: str
    version: str

    def to_json(self) -> Json:
        return {"id": self.id, "title": self.title, "version": self.version}


@dataclass(frozen=True)
class VariantRef:
    number: int
    text: str

    def to_json(self) -> Json:
        return {"number": self.number, "text": self.text}


@dataclass(frozen=True)
class AppliedModifier:
    """A modifier of criteria/modifiers.json that applied, with the evidence behind it."""

    id: str
    title: str
    effect: str
    indicator: Indicator | None
    text: str
    evidence: tuple[str, ...]
    source: str
    source_text: str

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "title": self.title,
            "effect": self.effect,
            "indicator": self.indicator,
            "text": self.text,
            "evidence": list(self.evidence),
            "source": self.source,
            "sourceText": self.source_text,
        }


@dataclass(frozen=True)
class Reason:
    """A decisive fact: its clinical-rules name, its value (yes/no, a measurement or a label) and evidence."""

    fact: str
    value: ReasonValue
    text: str
    evidence: tuple[str, ...]

    def to_json(self) -> Json:
        return {"fact": self.fact, "value": self.value, "text": self.text, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class Option:
    """One possible answer to a missing fact and what the order would then get."""

    value: str
    outcome: str

    def to_json(self) -> Json:
        return {"value": self.value, "outcome": self.outcome}


@dataclass(frozen=True)
class MissingFact:
    fact: str
    text: str
    options: tuple[Option, ...]
    question: str = ""  # the question to the ordering clinician, in words (clinical-rules §7)

    def to_json(self) -> Json:
        return {
            "fact": self.fact,
            "text": self.text,
            "question": self.question,
            "options": [o.to_json() for o in self.options],
        }


@dataclass(frozen=True)
class Concordant:
    """The study that does cover the indication's region, with its own rating (clinical-rules §3 step 5)."""

    procedure: ProcedureRef
    topic: TopicRef
    variant: VariantRef | None
    category: Category | None

    def to_json(self) -> Json:
        return {
            "procedure": self.procedure.to_json(),
            "topic": self.topic.to_json(),
            "variant": self.variant.to_json() if self.variant else None,
            "category": self.category,
        }


@dataclass(frozen=True)
class SafetyEntry:
    """One safety check's finding (clinical-rules §5, §7): MR safety of implants, pregnancy, region mismatch."""

    check: str  # "mr-safety" | "pregnancy" | "region"
    status: str  # mr-safety: unsafe | unknown | conditional; pregnancy: pregnant; region: mismatch
    indicator: Indicator
    text: str
    evidence: tuple[str, ...] = ()
    concordant: Concordant | None = None  # region mismatch only

    def to_json(self) -> Json:
        out: Json = {
            "check": self.check,
            "status": self.status,
            "indicator": self.indicator,
            "text": self.text,
            "evidence": list(self.evidence),
        }
        if self.concordant is not None:
            out["concordant"] = self.concordant.to_json()
        return out


@dataclass(frozen=True)
class StatedAssumption:
    """A value taken without evidence because a setting says so, and said (clinical-rules §2.4, §7)."""

    fact: str
    value: bool
    text: str
    setting: str

    def to_json(self) -> Json:
        return {"fact": self.fact, "value": self.value, "text": self.text, "setting": self.setting}


@dataclass(frozen=True)
class RatedUnder:
    """One topic a combined study was rated under (clinical-rules §3 step 5: both topics, the cautious category)."""

    topic: TopicRef
    variant: VariantRef | None
    category: Category | None

    def to_json(self) -> Json:
        return {
            "topic": self.topic.to_json(),
            "variant": self.variant.to_json() if self.variant else None,
            "category": self.category,
        }


@dataclass(frozen=True)
class Alternative:
    """A study rated better than the ordered one (``recommended_by``: the modifier that proposes it)."""

    procedure: ProcedureRef
    category: Category
    score: int
    score_basis: ScoreBasis
    rrl: str | None
    pama_rating: PamaRating
    variant: int | None
    recommended_by: str | None

    def to_json(self) -> Json:
        return {
            "procedure": self.procedure.to_json(),
            "category": self.category,
            "score": self.score,
            "scoreBasis": self.score_basis,
            "rrl": self.rrl,
            "pamaRating": self.pama_rating,
            "variant": self.variant,
            "recommendedBy": self.recommended_by,
        }


@dataclass(frozen=True)
class FactConsidered:
    fact: str
    value: bool | None

    def to_json(self) -> Json:
        return {"fact": self.fact, "value": self.value}


@dataclass(frozen=True)
class Source:
    label: str
    citation: str | None = None
    url: str | None = None
    provenance: str | None = None

    def to_json(self) -> Json:
        return {
            "label": self.label,
            "citation": self.citation,
            "url": self.url,
            "provenance": self.provenance,
        }


@dataclass(frozen=True)
class CardLink:
    """The CDS card shown for a result and its suggestions' uuids (ties feedback to the consultation)."""

    uuid: str
    suggestions: tuple[str, ...] = ()

    def to_json(self) -> Json:
        return {"uuid": self.uuid, "suggestions": list(self.suggestions)}


@dataclass(frozen=True)
class Result:
    """One order's result. Field order is the JSON key order."""

    consultation_id: str
    service_request: str
    subject: str | None
    status: Status
    evaluation_date: date
    procedure: ProcedureRef | None
    procedure_identified_by: str
    topic: TopicRef | None
    variant: VariantRef | None
    matched_variants: tuple[int, ...]
    category: Category | None
    score: int | None
    score_basis: ScoreBasis | None
    rrl: str | None
    pama_rating: PamaRating | None
    modifiers: tuple[AppliedModifier, ...]
    reasons: tuple[Reason, ...]
    missing: tuple[MissingFact, ...]
    alternatives: tuple[Alternative, ...]
    explanation: str
    unknowns_not_mattering: tuple[str, ...]
    facts_considered: tuple[FactConsidered, ...]
    data_issues: tuple[str, ...]
    criteria_version: str
    source: Source
    safety: tuple[SafetyEntry, ...] = ()
    assumptions: tuple[StatedAssumption, ...] = ()
    rated_under: tuple[RatedUnder, ...] = ()
    latency_ms: float | None = None  # set once the result is complete
    cds_card: CardLink | None = None  # set by the CDS service once the card is built
    questionnaire: Json | None = None  # insufficient-data: the FHIR Questionnaire asking for missing[]

    @property
    def is_rated(self) -> bool:
        return self.status is Status.RATED

    def with_consultation_id(self, consultation_id: str) -> Result:
        return replace(self, consultation_id=consultation_id)

    def with_card(self, card: CardLink) -> Result:
        return replace(self, cds_card=card)

    def to_json(self) -> Json:
        """The §7 JSON object, key for key as the API documents it (``latencyMs``/``cdsCard`` once set)."""
        out: Json = {
            "consultationId": self.consultation_id,
            "serviceRequest": self.service_request,
            "subject": self.subject,
            "status": self.status,
            "evaluationDate": self.evaluation_date.isoformat(),
            "procedure": self.procedure.to_json() if self.procedure else None,
            "procedureIdentifiedBy": self.procedure_identified_by,
            "topic": self.topic.to_json() if self.topic else None,
            "variant": self.variant.to_json() if self.variant else None,
            "matchedVariants": list(self.matched_variants),
            "category": self.category,
            "score": self.score,
            "scoreBasis": self.score_basis,
            "rrl": self.rrl,
            "pamaRating": self.pama_rating,
            "modifiers": [m.to_json() for m in self.modifiers],
            "reasons": [r.to_json() for r in self.reasons],
            "missing": [m.to_json() for m in self.missing],
            "alternatives": [a.to_json() for a in self.alternatives],
            "explanation": self.explanation,
            "unknownsThatDidNotMatter": list(self.unknowns_not_mattering),
            "factsConsidered": [f.to_json() for f in self.facts_considered],
            "dataIssues": list(self.data_issues),
            "criteriaVersion": self.criteria_version,
            "source": self.source.to_json(),
            "safety": [e.to_json() for e in self.safety],
            "assumptions": [a.to_json() for a in self.assumptions],
        }
        if self.rated_under:
            out["ratedUnder"] = [r.to_json() for r in self.rated_under]
        if self.latency_ms is not None:
            out["latencyMs"] = self.latency_ms
        if self.cds_card is not None:
            out["cdsCard"] = self.cds_card.to_json()
        if self.questionnaire is not None:
            out["questionnaire"] = self.questionnaire
        return out


def format_text(results: list[Result]) -> str:
    """The CLI's ``--format text`` summary."""
    lines: list[str] = []
    for r in results:
        proc = r.procedure.display if r.procedure else "unrecognised order"
        head = f"{r.service_request}: {proc} — {r.status}"
        if r.is_rated:
            head += f", {r.category} (score {r.score}), PAMA {r.pama_rating}"
        lines.append(head)
        if r.topic:
            lines.append(
                f"  topic: {r.topic.title} {r.topic.version}"
                + (f", variant {r.variant.number}: {r.variant.text}" if r.variant else "")
            )
        lines.append(f"  {r.explanation}")
        for entry in r.safety:
            ev = f" [{', '.join(entry.evidence)}]" if entry.evidence else ""
            lines.append(f"  ! safety ({entry.check}, {entry.indicator}): {entry.text}{ev}")
        for reason in r.reasons:
            ev = f" [{', '.join(reason.evidence)}]" if reason.evidence else ""
            lines.append(f"  - {reason.text}{ev}")
        for assumption in r.assumptions:
            lines.append(f"  * assumption ({assumption.setting}): {assumption.text}")
        for m in r.missing:
            lines.append(f"  ? {m.question or m.text}")
            lines.extend(f"      {o.value} → {o.outcome}" for o in m.options)
        for alt in r.alternatives[:3]:
            lines.append(f"  → {alt.procedure.display}: {alt.category} (RRL {alt.rrl or '—'})")
        for issue in r.data_issues:
            lines.append(f"  data issue: {issue}")
        lines.append(f"  criteria {r.criteria_version}; consultation {r.consultation_id}")
    return "\n".join(lines)
