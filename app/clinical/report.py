"""An assessment → the typed result of clinical-rules.md §7, with its one-paragraph explanation (pure)."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.clinical.conclusion import Assessment
from app.clinical.engine import facts_in
from app.clinical.facts import PatientFacts
from app.clinical.outputs import merged_missing, settled_reasons, stated_assumptions
from app.clinical.records import ref_of
from app.clinical.result import Coding, ProcedureRef, Result, Source, TopicRef, VariantRef
from app.clinical.vocabulary import Category, ScoreBasis, Status
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
        reasons=settled_reasons(a.reasons, facts, criteria),
        missing=merged_missing(a.missing, facts),
        alternatives=a.alternatives,
        explanation=explanation(a, criteria, facts),
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
        assumptions=stated_assumptions(a, facts, criteria),
        latency_ms=latency_ms,
    )


#: How each category reads after the study's name ("MRI … is usually appropriate"; never "is may be").
CATEGORY_WORDS = {
    Category.USUALLY_APPROPRIATE: "is usually appropriate",
    Category.MAY_BE_APPROPRIATE: "may be appropriate",
    Category.MAY_BE_APPROPRIATE_DISAGREEMENT: "may be appropriate (the panel disagreed)",
    Category.USUALLY_NOT_APPROPRIATE: "is usually not appropriate",
}
#: The category as a noun phrase (alternatives, options).
CATEGORY_NAMES = {
    Category.USUALLY_APPROPRIATE: "usually appropriate",
    Category.MAY_BE_APPROPRIATE: "may be appropriate",
    Category.MAY_BE_APPROPRIATE_DISAGREEMENT: "may be appropriate (panel disagreement)",
    Category.USUALLY_NOT_APPROPRIATE: "usually not appropriate",
}
MIDPOINT_TEXT = "no published panel rating; midpoint of the category band"
#: (topic, variant)s whose "usually not appropriate" answer says what would change it (clinical-rules §6)
NEXT_STEP_VARIANTS = frozenset({("acr-low-back-pain", 1), ("acr-low-back-pain", 2)})
NEXT_STEP_RED_FLAGS = "lbp_red_flag"
MANAGEMENT_SETTING = "managementWeeksRequired"


def next_step(criteria: Criteria) -> str:
    """What would change a V1/V2 "usually not appropriate" (clinical-rules §6), with the setting's weeks."""
    weeks = criteria.thresholds[MANAGEMENT_SETTING]
    return (
        f"Next step: reconsider if symptoms persist after {weeks:g} weeks of conservative care in a candidate "
        "for intervention, or at once if red flags appear: cauda equina symptoms, cancer, infection, "
        "fracture risk."
    )


def absent_red_flags(criteria: Criteria, facts: PatientFacts) -> list[str]:
    """The red flags of LBP V4–V7 the record was checked for and does not show."""
    expr = criteria.derived_facts.get(NEXT_STEP_RED_FLAGS) or {}
    # one name per flag: a compound flag ("prior surgery and new symptoms") is named by its first fact
    names = [facts_in(item)[0] for item in expr.get("any", [expr]) if facts_in(item)]
    out = []
    for name in dict.fromkeys(names):
        fact = facts.facts.get(name)
        if fact is not None and fact.value is False:
            out.append(criteria.fact_texts.get(name, name.replace("_", " ")).split(" (")[0].lower())
    return out


def _score_words(a: Assessment) -> str:
    if a.score_basis is ScoreBasis.PANEL_RATING:
        return f"panel rating {a.score}"
    return f"score {a.score}: {MIDPOINT_TEXT}"


def _row_coverage_words(a: Assessment) -> list[str]:
    """Which row rated the study when a topic's ``rowCoverage`` widened it (a child's complete-spine row, §3)."""
    best = a.outcome.best if a.outcome else None
    if best is None or best.coverage is None:
        return []
    text = best.coverage.text[:1].upper() + best.coverage.text[1:]
    return [
        f"{text} ({best.row.acr_name}), which contains the narrower study of the same contrast "
        f"({best.coverage.source})."
    ]


def explanation(a: Assessment, criteria: Criteria, facts: PatientFacts | None = None) -> str:
    """One paragraph a radiologist can read and sign."""
    proc = a.procedure.display if a.procedure else "The ordered study"
    safety = [f"Safety: {e.text}." for e in a.safety]
    if a.status is Status.NOT_APPLICABLE:
        return f"Not evaluated: {a.text}."
    if a.status is Status.NO_CRITERIA:
        return " ".join([f"{proc}: no ACR criteria in this service apply. {a.text}.", *safety])
    if a.status is Status.INSUFFICIENT_DATA:
        return " ".join([f"{proc}: not rated. {a.text}.", *safety])
    assert a.topic is not None and a.category is not None
    variant = f", variant {a.variant}" if a.variant else ""
    parts = [
        f"{proc} {CATEGORY_WORDS[a.category]} ({_score_words(a)}) under ACR {a.topic.title} "
        f"{a.topic.version}{variant}."
    ]
    parts += _row_coverage_words(a)
    parts += safety
    for mod in a.modifiers:
        parts.append(f"{mod.title}: {mod.text}")
    therapy = next((r for r in a.reasons if r.fact == "management_weeks"), None)
    if therapy is not None:
        text = therapy.text.rstrip(".")
        parts.append(
            f"{text}." if text.lower().startswith("conservative care") else f"Conservative care: {text}."
        )
    if a.unknowns_not_mattering:
        parts.append("Unknown but not decisive: " + "; ".join(a.unknowns_not_mattering) + ".")
    if a.alternatives:
        best = a.alternatives[0]
        parts.append(f"Better choice: {best.procedure.display} ({CATEGORY_NAMES[best.category]}).")
    una = a.category is Category.USUALLY_NOT_APPROPRIATE
    if una and (a.topic.id, a.variant) in NEXT_STEP_VARIANTS:
        if facts is not None and (absent := absent_red_flags(criteria, facts)):
            parts.append("Red flags checked and not found: " + "; ".join(absent) + ".")
        parts.append(next_step(criteria))
    elif una and a.variant and not a.alternatives:
        parts.append("No listed procedure rates better in this variant: imaging is not indicated now.")
    return " ".join(parts)
