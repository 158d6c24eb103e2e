"""CDS Hooks 2.0 cards and system actions rendered from typed results (:class:`app.clinical.result.Result`).

One card per assessed spine order (``not-applicable`` orders get none). Indicator policy, chosen
against alert fatigue: ``info`` for usually / may be appropriate and for "no criteria apply";
``warning`` for usually not appropriate, insufficient data or an MR-conditional implant; ``critical``
only when a modifier marks a contraindication (MR-unsafe implant).

System actions are ``update``s of the draft ServiceRequest that add the Argonaut PAMA extensions and
change nothing else; suggested swaps are the full draft with the new code and their own rating
(the CDS Hooks sandbox crashes on a suggestion without a ``pama-rating`` extension).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from app.cds.codings import suggestion_codings
from app.clinical.result import AppliedModifier, Result, SafetyEntry
from app.clinical.vocabulary import Category, Indicator, PamaRating, ScoreBasis, Status
from app.criteria.model import Criteria

PAMA_RATING_URL = "http://fhir.org/argonaut/Extension/pama-rating"
PAMA_CONSULT_ID_URL = "http://fhir.org/argonaut/Extension/pama-rating-consult-id"
PAMA_AUC_APPLIED_URL = "http://fhir.org/argonaut/Extension/pama-rating-auc-applied"
PAMA_QCDSM_URL = "http://fhir.org/argonaut/Extension/pama-rating-qcdsm-consulted"
PAMA_RATING_SYSTEM = "http://fhir.org/argonaut/CodeSystem/pama-rating"
PAMA_EXTENSION_URLS = frozenset({PAMA_RATING_URL, PAMA_CONSULT_ID_URL, PAMA_AUC_APPLIED_URL, PAMA_QCDSM_URL})

# Our own code systems for the finer-grained translations inside pama-rating.
CATEGORY_SYSTEM = "urn:spine-auc:CodeSystem:appropriateness-category"
SCORE_SYSTEM = "urn:spine-auc:CodeSystem:appropriateness-score"
TOPIC_SYSTEM = "urn:spine-auc:CodeSystem:acr-topic"
OVERRIDE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
LOCAL_OVERRIDE_SYSTEM = "urn:spine-auc:CodeSystem:imaging-override-reason"

CATEGORY_TEXT: dict[Category, str] = {
    Category.USUALLY_APPROPRIATE: "usually appropriate",
    Category.MAY_BE_APPROPRIATE: "may be appropriate",
    Category.MAY_BE_APPROPRIATE_DISAGREEMENT: "may be appropriate (panel disagreement)",
    Category.USUALLY_NOT_APPROPRIATE: "usually not appropriate",
}
# PAMA mapping (clinical-rules §6): UA, MBA, MBA-D -> appropriate; UNA -> not-appropriate.
PAMA_FOR_CATEGORY: dict[Category, PamaRating] = {
    Category.USUALLY_APPROPRIATE: PamaRating.APPROPRIATE,
    Category.MAY_BE_APPROPRIATE: PamaRating.APPROPRIATE,
    Category.MAY_BE_APPROPRIATE_DISAGREEMENT: PamaRating.APPROPRIATE,
    Category.USUALLY_NOT_APPROPRIATE: PamaRating.NOT_APPROPRIATE,
}
PAMA_DISPLAY: dict[PamaRating, str] = {
    PamaRating.APPROPRIATE: "Adheres to appropriate use criteria",
    PamaRating.NOT_APPROPRIATE: "Does not adhere to appropriate use criteria",
    PamaRating.NO_CRITERIA_APPLY: "No appropriate use criteria apply",
}
#: Statuses that get a card (``not-applicable`` orders are not spine imaging: no card).
CARD_STATUSES = frozenset({Status.RATED, Status.INSUFFICIENT_DATA, Status.NO_CRITERIA})

OVERRIDE_REASONS: list[dict[str, str]] = [
    {"system": LOCAL_OVERRIDE_SYSTEM, "code": "emergency", "display": "Emergency or urgent clinical need"},
    {
        "system": LOCAL_OVERRIDE_SYSTEM,
        "code": "clinical-info-not-recorded",
        "display": "Relevant clinical information is not recorded in the chart",
    },
    {"system": LOCAL_OVERRIDE_SYSTEM, "code": "radiologist-consulted", "display": "Radiologist consulted"},
    {
        "system": LOCAL_OVERRIDE_SYSTEM,
        "code": "prior-imaging-unavailable",
        "display": "Prior imaging not available",
    },
    {"system": OVERRIDE_SYSTEM, "code": "patient-contraindication", "display": "Patient contraindication"},
    {
        "system": OVERRIDE_SYSTEM,
        "code": "recipient-disagrees-evidence",
        "display": "Disagree with the evidence",
    },
]

SUMMARY_LIMIT = 139  # "<140 characters"
MAX_SUGGESTIONS = 3


def new_uuid() -> str:
    return str(uuid.uuid4())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _md(text: Any) -> str:
    """Escape the Markdown characters that would change the meaning of plain text."""
    out = str(text)
    for ch in ("\\", "*", "_", "`", "[", "]", "<", ">", "#", "|"):
        out = out.replace(ch, "\\" + ch)
    return out


def _study(result: Result, order: dict[str, Any] | None) -> str:
    """What the card calls the order: the catalogue study, else the order's own text or coding display."""
    if result.procedure is not None:
        return result.procedure.display
    code = (order or {}).get("code")
    if isinstance(code, dict):
        if isinstance(code.get("text"), str) and code["text"]:
            return str(code["text"])
        for coding in code.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                return str(coding["display"])
    return "Imaging order"


def _score_text(score: int | None) -> str:
    return f"{score}/9" if score is not None else "no score"


def _category_text(category: Category | None) -> str:
    return CATEGORY_TEXT[category] if category is not None else str(category)


def pama_rating_for(result: Result) -> PamaRating | None:
    """The Argonaut rating code for a result, or None when no PAMA response may be given."""
    if result.status is Status.NO_CRITERIA:
        return PamaRating.NO_CRITERIA_APPLY
    if not result.is_rated:
        return None
    if result.pama_rating is not None:
        return result.pama_rating
    return PAMA_FOR_CATEGORY.get(result.category) if result.category is not None else None


def pama_extensions(
    rating: PamaRating,
    *,
    consultation_id: str | None,
    category: Category | None,
    score: int | None,
    auc_url: str | None,
) -> list[dict[str, Any]]:
    """The Argonaut PAMA extensions; category and score ride along as extra codings of the rating."""
    codings: list[dict[str, Any]] = [
        {"system": PAMA_RATING_SYSTEM, "code": rating, "display": PAMA_DISPLAY[rating]}
    ]
    if category:
        codings.append({"system": CATEGORY_SYSTEM, "code": category, "display": CATEGORY_TEXT[category]})
    if score is not None:
        codings.append({"system": SCORE_SYSTEM, "code": str(score), "display": f"{score} of 9"})
    exts: list[dict[str, Any]] = [{"url": PAMA_RATING_URL, "valueCodeableConcept": {"coding": codings}}]
    if consultation_id:
        exts.append({"url": PAMA_CONSULT_ID_URL, "valueUri": consultation_id})
    if auc_url:
        exts.append({"url": PAMA_AUC_APPLIED_URL, "valueUri": auc_url})
    return exts


def with_extensions(resource: dict[str, Any], extensions: list[dict[str, Any]]) -> dict[str, Any]:
    """A deep copy of ``resource`` with earlier PAMA extensions replaced by ``extensions``; nothing else changes."""
    updated = copy.deepcopy(resource)
    kept = [
        e
        for e in updated.get("extension") or []
        if not (isinstance(e, dict) and e.get("url") in PAMA_EXTENSION_URLS)
    ]
    updated["extension"] = kept + extensions
    return updated


def system_action(result: Result, order: dict[str, Any]) -> dict[str, Any] | None:
    """The ``update`` that attaches the rating to the draft order; None for unrated / not-applicable."""
    rating = pama_rating_for(result)
    if rating is None:
        return None
    exts = pama_extensions(
        rating,
        consultation_id=result.consultation_id,
        category=result.category if result.is_rated else None,
        score=result.score if result.is_rated else None,
        auc_url=result.source.url or None,
    )
    return {
        "type": "update",
        "description": f"Record the appropriateness rating ({rating}) on the order",
        "resource": with_extensions(order, exts),
    }


def _suggestions(result: Result, order: dict[str, Any], criteria: Criteria | None) -> list[dict[str, Any]]:
    suggestions: list[dict[str, Any]] = []
    for alt in result.alternatives:
        if len(suggestions) >= MAX_SUGGESTIONS:
            break
        codings = suggestion_codings(alt.procedure, criteria)  # one canonical code per system
        rating = PAMA_FOR_CATEGORY.get(alt.category)
        if not codings or rating is None:
            continue  # a swap needs a code, and the suggested order must carry its own rating
        display = alt.procedure.display or codings[0].get("display") or codings[0]["code"]
        swapped = with_extensions(
            {**order, "code": {"coding": codings, "text": display}},
            pama_extensions(
                rating,
                consultation_id=result.consultation_id,
                category=alt.category,
                score=alt.score,
                auc_url=result.source.url or None,
            ),
        )
        label = _clip(
            f"Order {display} instead ({CATEGORY_TEXT[alt.category]}, {_score_text(alt.score)})",
            SUMMARY_LIMIT,
        )
        suggestions.append(
            {
                "label": label,
                "uuid": new_uuid(),
                "isRecommended": not suggestions,
                "actions": [
                    {
                        "type": "update",
                        "description": f"Change the draft order to {display}",
                        "resource": swapped,
                    }
                ],
            }
        )
    return suggestions


def _evidence(refs: tuple[str, ...]) -> str:
    return f" — evidence: {', '.join(_md(r) for r in refs)}" if refs else ""


def _detail(result: Result, study: str) -> str:
    lines: list[str] = []
    if result.is_rated:
        basis = " (category midpoint)" if result.score_basis is ScoreBasis.CATEGORY_MIDPOINT else ""
        lines.append(
            f"**{_md(study)}** is *{_category_text(result.category)}*: score {_score_text(result.score)}{basis}."
        )
    elif result.status is Status.INSUFFICIENT_DATA:
        lines.append(f"**{_md(study)}** cannot be rated yet: the record lacks facts that change the answer.")
    else:
        lines.append(f"**{_md(study)}**: no ACR Appropriateness Criteria apply to this order and indication.")
    if result.topic:
        title = f"ACR {_md(result.topic.title)}"
        if result.topic.version:
            title += f" ({_md(result.topic.version)})"
        if result.variant is not None:
            title += f", variant {_md(result.variant.number)}"
            if result.variant.text:
                title += f": {_md(result.variant.text)}"
        lines += ["", title]
    if result.matched_variants:
        lines += ["", "Matched variants: " + ", ".join(_md(v) for v in result.matched_variants)]
    if result.safety:
        lines += ["", "**Safety**"]
        for s in result.safety:
            lines.append(f"- {_md(s.indicator.upper())}: {_md(s.text)}{_evidence(s.evidence)}")
    if result.modifiers:
        lines += ["", "**Modifiers**"]
        for m in result.modifiers:
            text = m.text or m.title or m.id
            lines.append(f"- {_md(m.title or m.id)}: {_md(text)}{_evidence(m.evidence)}")
    if result.assumptions:
        lines += ["", "**Assumptions**"] + [
            f"- {_md(a.text)} (setting {_md(a.setting)})" for a in result.assumptions
        ]
    found: list[str] = []
    checked: list[str] = []
    for r in result.reasons:
        text = _md(r.text or r.fact)
        if r.evidence:
            line = f"- {text}{_evidence(r.evidence)}"
            if line not in found:
                found.append(line)
        elif text not in checked:
            checked.append(text)
    if found:
        lines += ["", "**Reasons** (with the FHIR resources behind them)"] + found
    if checked:
        lines += ["", "**Also checked:** " + "; ".join(checked)]
    if result.missing:
        lines += ["", "**Missing information** (record it to get a rating)"]
        for missing in result.missing:
            options = [f"{_md(o.value)} → {_md(o.outcome)}" for o in missing.options]
            suffix = f" (if {'; '.join(options)})" if options else ""
            lines.append(f"- {_md(missing.question or missing.text or missing.fact)}{suffix}")
    if result.data_issues:
        lines += ["", "**Data skipped as malformed**"] + [f"- {_md(i)}" for i in result.data_issues[:10]]
    footer: list[str] = []
    if result.rrl:
        footer.append(f"Relative radiation level: {_md(result.rrl)}")
    if result.criteria_version:
        footer.append(f"Criteria version: {_md(result.criteria_version)}")
    source = result.source
    if source.label:
        cite = _md(source.label)
        if source.url:
            cite = f"[{cite}]({source.url})"
        if source.citation:
            cite += f" — {_md(source.citation)}"
        footer.append(f"Source: {cite}")
    if result.consultation_id:
        footer.append(f"Consultation: {_md(result.consultation_id)}")
    if footer:
        lines += ["", " · ".join(footer)]
    return "\n".join(lines)


def _critical(modifiers: tuple[AppliedModifier, ...]) -> list[AppliedModifier]:
    return [m for m in modifiers if m.indicator is Indicator.CRITICAL]


def _indicator(result: Result) -> Indicator:
    if _critical(result.modifiers) or any(s.indicator is Indicator.CRITICAL for s in result.safety):
        return Indicator.CRITICAL
    if any(s.indicator is Indicator.WARNING for s in result.safety):
        return Indicator.WARNING
    if result.status is Status.INSUFFICIENT_DATA:
        return Indicator.WARNING
    if result.is_rated and result.category is Category.USUALLY_NOT_APPROPRIATE:
        return Indicator.WARNING
    if any(m.indicator is Indicator.WARNING for m in result.modifiers):
        return Indicator.WARNING
    return Indicator.INFO


def _contraindication(entry: SafetyEntry) -> str:
    """ "contraindicated: MR-unsafe implant (device)" → "contraindicated (MR-unsafe implant)"."""
    head, _, why = entry.text.split(" (")[0].partition(": ")
    return f"{head} ({why})" if why else head


def _summary(result: Result, study: str) -> str:
    critical_safety = [s for s in result.safety if s.indicator is Indicator.CRITICAL]
    if result.is_rated:
        category = _category_text(result.category)
        critical = _critical(result.modifiers)
        if critical_safety:
            tail = f": {_contraindication(critical_safety[0])} — {category} ({_score_text(result.score)})"
        elif critical:
            why = critical[0].title or "contraindication"
            tail = f": contraindicated ({why}) — {category} ({_score_text(result.score)})"
        else:
            tail = f": {category} ({_score_text(result.score)})"
    elif critical_safety:
        tail = f": {_contraindication(critical_safety[0])}"
    elif result.status is Status.INSUFFICIENT_DATA:
        tail = ": not rated — more clinical information needed"
    else:
        tail = ": no appropriateness criteria apply"
    return _clip(study, SUMMARY_LIMIT - len(tail)) + tail


def _source(result: Result, default_label: str) -> dict[str, Any]:
    out: dict[str, Any] = {"label": result.source.label or default_label}
    if result.source.url:
        out["url"] = result.source.url
    if result.topic:
        out["topic"] = {
            "system": TOPIC_SYSTEM,
            "code": result.topic.id,
            "display": result.topic.title or result.topic.id,
        }
    return out


def card_for(
    result: Result,
    order: dict[str, Any],
    *,
    default_source_label: str,
    criteria: Criteria | None = None,
) -> dict[str, Any] | None:
    """One card for an assessed spine order; None when the order is not spine imaging."""
    if result.status not in CARD_STATUSES:
        return None
    study = _study(result, order)
    indicator = _indicator(result)
    card: dict[str, Any] = {
        "uuid": new_uuid(),
        "summary": _summary(result, study),
        "indicator": indicator,
        "detail": _detail(result, study),
        "source": _source(result, default_source_label),
    }
    if result.is_rated:
        suggestions = _suggestions(result, order, criteria)
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = "at-most-one"
    if indicator is not Indicator.INFO:
        card["overrideReasons"] = [dict(r) for r in OVERRIDE_REASONS]
    return card


def build_response(
    pairs: list[tuple[Result, dict[str, Any]]],
    cards: list[dict[str, Any] | None],
    *,
    legacy_system_actions: bool,
) -> dict[str, Any]:
    """The CDS Hooks response for (result, order) pairs and their ``card_for`` cards (``None``: no card):
    ``cards`` always, ``systemActions`` only if any."""
    actions = [a for a in (system_action(result, order) for result, order in pairs) if a is not None]
    response: dict[str, Any] = {"cards": [card for card in cards if card is not None]}
    if actions:
        response["systemActions"] = actions
        if legacy_system_actions:
            # The pre-2.0 Argonaut placement the CDS Hooks sandbox reads (reference §7).
            response["extension"] = {"systemActions": actions}  # same objects, serialised twice
    return response
