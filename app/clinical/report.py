"""An assessment → the typed result of clinical-rules.md §7, with its one-paragraph explanation (pure)."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.clinical.conclusion import Assessment
from app.clinical.facts import PatientFacts
from app.clinical.records import ref_of
from app.clinical.result import Coding, ProcedureRef, Result, Source, TopicRef, VariantRef
from app.clinical.vocabulary import Category, Status
from app.criteria.model import Criteria

DEFAULT_SOURCE = Source(label="spine-auc criteria")


def report(
    a: Assessment,
    facts: PatientFacts,
    criteria: Criteria,
    *,
    order: dict[str, Any],
    consultation_id: str,
    evaluation_date: date,
    latency_ms: float | None = None,
) -> Result:
    """The result of ``order`` (the ServiceRequest ``a`` assessed) for the audit trail and every renderer."""
    topic = a.topic
    variant = topic.variant(a.variant) if topic and a.variant else None
    procedure = None
    if a.procedure is not None:
        codes = a.ordered.codes or a.procedure.codes
        procedure = ProcedureRef(a.procedure.id, a.procedure.display, tuple(Coding.of(c) for c in codes))
    subject = order.get("subject")
    return Result(
        consultation_id=consultation_id,
        service_request=ref_of(order),
        subject=subject.get("reference") if isinstance(subject, dict) else None,
        status=a.status,
        evaluation_date=evaluation_date,
        procedure=procedure,
        procedure_identified_by=a.ordered.identified_by,
        topic=TopicRef(topic.id, topic.title, topic.version) if topic else None,
        variant=VariantRef(variant.number, variant.text) if variant else None,
        matched_variants=a.matched_variants,
        category=a.category,
        score=a.score,
        score_basis=a.score_basis,
        rrl=a.rrl,
        pama_rating=a.pama,
        modifiers=a.modifiers,
        reasons=a.reasons,
        missing=a.missing,
        alternatives=a.alternatives,
        explanation=explanation(a, criteria),
        unknowns_not_mattering=a.unknowns_not_mattering,
        facts_considered=a.considered,
        data_issues=tuple(facts.issues),
        criteria_version=criteria.version,
        source=(
            Source(
                label=f"ACR Appropriateness Criteria® {topic.title} ({topic.version})",
                citation=topic.citation,
                url=topic.url,
                provenance=topic.source,
            )
            if topic
            else DEFAULT_SOURCE
        ),
        safety=a.safety,
        latency_ms=latency_ms,
    )


def explanation(a: Assessment, criteria: Criteria) -> str:
    """One paragraph a radiologist can read."""
    proc = a.procedure.display if a.procedure else "The ordered study"
    if a.status is Status.NOT_APPLICABLE:
        return f"Not evaluated: {a.text}."
    if a.status is Status.NO_CRITERIA:
        return f"{proc}: no ACR criteria in this service apply. {a.text}."
    if a.status is Status.INSUFFICIENT_DATA:
        return f"{proc}: not rated. {a.text}."
    assert a.topic is not None and a.category is not None
    cat = criteria.categories[a.category]["display"]
    variant = f" variant {a.variant}" if a.variant else ""
    parts = [
        f"{proc} is {cat.lower()} (score {a.score}, {a.score_basis}) under ACR {a.topic.title} "
        f"{a.topic.version}{variant}."
    ]
    for mod in a.modifiers:
        parts.append(f"{mod.id} {mod.title}: {mod.text}")
    if a.unknowns_not_mattering:
        parts.append("Unknown but not decisive: " + "; ".join(a.unknowns_not_mattering) + ".")
    if a.alternatives:
        best = a.alternatives[0]
        parts.append(f"Better choice: {best.procedure.display} ({best.category}).")
    elif a.category is Category.USUALLY_NOT_APPROPRIATE and a.variant:
        parts.append("No listed procedure rates better in this variant: imaging is not indicated now.")
    return " ".join(parts)
