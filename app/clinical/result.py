"""Assessment → the result contract of clinical-rules.md §7, and the CLI's human summary (pure)."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.clinical.engine import Assessment
from app.clinical.facts import PatientFacts
from app.clinical.records import ref_of
from app.criteria.model import Criteria


def assessment_to_result(
    a: Assessment,
    facts: PatientFacts,
    criteria: Criteria,
    *,
    order: dict[str, Any],
    consultation_id: str,
    evaluation: date,
) -> dict[str, Any]:
    topic = a.topic
    variant = topic.variant(a.variant) if topic and a.variant else None
    procedure = None
    if a.procedure is not None:
        procedure = {
            "id": a.procedure.id,
            "display": a.procedure.display,
            "codes": list(a.ordered.codes) or list(a.procedure.codes),
        }
    result: dict[str, Any] = {
        "consultationId": consultation_id,
        "serviceRequest": ref_of(order),
        "subject": (order.get("subject") or {}).get("reference")
        if isinstance(order.get("subject"), dict)
        else None,
        "status": a.status,
        "evaluationDate": evaluation.isoformat(),
        "procedure": procedure,
        "procedureIdentifiedBy": a.ordered.identified_by,
        "topic": {"id": topic.id, "title": topic.title, "version": topic.version} if topic else None,
        "variant": {"number": variant.number, "text": variant.text} if variant else None,
        "matchedVariants": list(a.matched_variants),
        "category": a.category,
        "score": a.score,
        "scoreBasis": a.score_basis,
        "rrl": a.rrl,
        "pamaRating": a.pama,
        "modifiers": a.modifiers,
        "reasons": a.reasons,
        "missing": a.missing,
        "alternatives": a.alternatives,
        "explanation": explanation(a, criteria),
        "unknownsThatDidNotMatter": a.unknowns_not_mattering,
        "factsConsidered": a.considered,
        "dataIssues": list(facts.issues),
        "criteriaVersion": criteria.version,
        "source": (
            {
                "label": f"ACR Appropriateness Criteria® {topic.title} ({topic.version})",
                "citation": topic.citation,
                "url": topic.url,
                "provenance": topic.source,
            }
            if topic
            else {"label": "spine-auc criteria", "citation": None, "url": None, "provenance": None}
        ),
    }
    return result


def explanation(a: Assessment, criteria: Criteria) -> str:
    """One paragraph a radiologist can read."""
    proc = a.procedure.display if a.procedure else "The ordered study"
    if a.status == "not-applicable":
        return f"Not evaluated: {a.text}."
    if a.status == "no-criteria":
        return f"{proc}: no ACR criteria in this service apply. {a.text}."
    if a.status == "insufficient-data":
        return f"{proc}: not rated. {a.text}."
    assert a.topic is not None and a.category is not None
    cat = criteria.categories[a.category]["display"]
    variant = f" variant {a.variant}" if a.variant else ""
    parts = [
        f"{proc} is {cat.lower()} (score {a.score}, {a.score_basis}) under ACR {a.topic.title} "
        f"{a.topic.version}{variant}."
    ]
    for mod in a.modifiers:
        parts.append(f"{mod['id']} {mod['title']}: {mod['text']}")
    if a.unknowns_not_mattering:
        parts.append("Unknown but not decisive: " + "; ".join(a.unknowns_not_mattering) + ".")
    if a.alternatives:
        best = a.alternatives[0]
        parts.append(f"Better choice: {best['procedure']['display']} ({best['category']}).")
    elif a.category == "usually-not-appropriate" and a.variant:
        parts.append("No listed procedure rates better in this variant: imaging is not indicated now.")
    return " ".join(parts)


def format_text(results: list[dict[str, Any]]) -> str:
    """The CLI's ``--format text`` summary."""
    lines: list[str] = []
    for r in results:
        proc = (r.get("procedure") or {}).get("display", "unrecognised order")
        head = f"{r['serviceRequest']}: {proc} — {r['status']}"
        if r["status"] == "rated":
            head += f", {r['category']} (score {r['score']}), PAMA {r['pamaRating']}"
        lines.append(head)
        if r.get("topic"):
            variant = r.get("variant") or {}
            lines.append(
                f"  topic: {r['topic']['title']} {r['topic']['version']}"
                + (f", variant {variant.get('number')}: {variant.get('text')}" if variant else "")
            )
        lines.append(f"  {r['explanation']}")
        for reason in r.get("reasons", []):
            ev = f" [{', '.join(reason['evidence'])}]" if reason.get("evidence") else ""
            lines.append(f"  - {reason['text']}{ev}")
        for m in r.get("missing", []):
            opts = "; ".join(f"{o['value']} → {o['outcome']}" for o in m["options"])
            lines.append(f"  ? {m['text']}: {opts}")
        for alt in r.get("alternatives", [])[:3]:
            lines.append(
                f"  → {alt['procedure']['display']}: {alt['category']} (RRL {alt.get('rrl') or '—'})"
            )
        for issue in r.get("dataIssues", []):
            lines.append(f"  ! {issue}")
        lines.append(f"  criteria {r['criteriaVersion']}; consultation {r['consultationId']}")
    return "\n".join(lines)
