"""CDS Hooks 2.0 cards and system actions from evaluation results (pure: dicts in, dicts out).

One card per evaluated spine order (``not-applicable`` orders get none). Indicator policy, chosen
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

CATEGORY_TEXT: dict[str, str] = {
    "usually-appropriate": "usually appropriate",
    "may-be-appropriate": "may be appropriate",
    "may-be-appropriate-disagreement": "may be appropriate (panel disagreement)",
    "usually-not-appropriate": "usually not appropriate",
}
# PAMA mapping (clinical-rules §6): UA, MBA, MBA-D -> appropriate; UNA -> not-appropriate.
PAMA_FOR_CATEGORY: dict[str, str] = {
    "usually-appropriate": "appropriate",
    "may-be-appropriate": "appropriate",
    "may-be-appropriate-disagreement": "appropriate",
    "usually-not-appropriate": "not-appropriate",
}
PAMA_DISPLAY: dict[str, str] = {
    "appropriate": "Adheres to appropriate use criteria",
    "not-appropriate": "Does not adhere to appropriate use criteria",
    "no-criteria-apply": "No appropriate use criteria apply",
}

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


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _arr(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


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


def _study(result: dict[str, Any], order: dict[str, Any] | None) -> str:
    procedure = result.get("procedure")
    if isinstance(procedure, dict) and isinstance(procedure.get("display"), str):
        return procedure["display"]
    code = (order or {}).get("code")
    if isinstance(code, dict):
        if isinstance(code.get("text"), str) and code["text"]:
            return code["text"]
        for coding in code.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                return coding["display"]
    return "Imaging order"


def _score_text(score: Any) -> str:
    return f"{score}/9" if isinstance(score, int) and not isinstance(score, bool) else "no score"


def pama_rating_for(result: dict[str, Any]) -> str | None:
    """The Argonaut rating code for a result, or None when no PAMA response may be given."""
    status = result.get("status")
    if status == "no-criteria":
        return "no-criteria-apply"
    if status != "rated":
        return None
    rating = result.get("pamaRating")
    if isinstance(rating, str) and rating in PAMA_DISPLAY:
        return rating
    return PAMA_FOR_CATEGORY.get(str(result.get("category")))


def pama_extensions(
    rating: str, *, consultation_id: str | None, category: str | None, score: Any, auc_url: str | None
) -> list[dict[str, Any]]:
    """The Argonaut PAMA extensions; category and score ride along as extra codings of the rating."""
    codings: list[dict[str, Any]] = [
        {"system": PAMA_RATING_SYSTEM, "code": rating, "display": PAMA_DISPLAY.get(rating, rating)}
    ]
    if category:
        codings.append(
            {"system": CATEGORY_SYSTEM, "code": category, "display": CATEGORY_TEXT.get(category, category)}
        )
    if isinstance(score, int) and not isinstance(score, bool):
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


def _auc_url(result: dict[str, Any]) -> str | None:
    source = result.get("source")
    if isinstance(source, dict) and isinstance(source.get("url"), str) and source["url"]:
        return source["url"]
    return None


def system_action(result: dict[str, Any], order: dict[str, Any]) -> dict[str, Any] | None:
    """The ``update`` that attaches the rating to the draft order; None for unrated / not-applicable."""
    rating = pama_rating_for(result)
    if rating is None:
        return None
    category = result.get("category") if result.get("status") == "rated" else None
    exts = pama_extensions(
        rating,
        consultation_id=result.get("consultationId"),
        category=category if isinstance(category, str) else None,
        score=result.get("score") if result.get("status") == "rated" else None,
        auc_url=_auc_url(result),
    )
    return {
        "type": "update",
        "description": f"Record the appropriateness rating ({rating}) on the order",
        "resource": with_extensions(order, exts),
    }


def _suggestions(result: dict[str, Any], order: dict[str, Any]) -> list[dict[str, Any]]:
    alternatives = _arr(result.get("alternatives"))
    suggestions: list[dict[str, Any]] = []
    for alt in alternatives:
        if len(suggestions) >= MAX_SUGGESTIONS or not isinstance(alt, dict):
            break
        procedure = _obj(alt.get("procedure"))
        codes = [c for c in procedure.get("codes") or [] if isinstance(c, dict) and c.get("code")]
        category = alt.get("category")
        rating = PAMA_FOR_CATEGORY.get(str(category))
        if not codes or rating is None:
            continue  # a swap needs a code, and the suggested order must carry its own rating
        display = str(procedure.get("display") or codes[0].get("display") or codes[0]["code"])
        swapped = with_extensions(
            {**order, "code": {"coding": [dict(c) for c in codes], "text": display}},
            pama_extensions(
                rating,
                consultation_id=result.get("consultationId"),
                category=str(category),
                score=alt.get("score"),
                auc_url=_auc_url(result),
            ),
        )
        label = _clip(
            f"Order {display} instead ({CATEGORY_TEXT.get(str(category), category)}, {_score_text(alt.get('score'))})",
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


def _evidence(items: Any) -> str:
    refs = [str(r) for r in items or [] if isinstance(r, str | int | float)]
    return f" — evidence: {', '.join(_md(r) for r in refs)}" if refs else ""


def _detail(result: dict[str, Any], study: str) -> str:
    lines: list[str] = []
    status = result.get("status")
    topic = _obj(result.get("topic"))
    variant = _obj(result.get("variant"))
    if status == "rated":
        category = CATEGORY_TEXT.get(str(result.get("category")), str(result.get("category")))
        basis = " (category midpoint)" if result.get("scoreBasis") == "category-midpoint" else ""
        lines.append(f"**{_md(study)}** is *{category}*: score {_score_text(result.get('score'))}{basis}.")
    elif status == "insufficient-data":
        lines.append(f"**{_md(study)}** cannot be rated yet: the record lacks facts that change the answer.")
    else:
        lines.append(f"**{_md(study)}**: no ACR Appropriateness Criteria apply to this order and indication.")
    if topic:
        title = f"ACR {_md(topic.get('title', topic.get('id', '')))}"
        if topic.get("version"):
            title += f" ({_md(topic['version'])})"
        if variant.get("number") is not None:
            title += f", variant {_md(variant['number'])}"
            if variant.get("text"):
                title += f": {_md(variant['text'])}"
        lines += ["", title]
    if result.get("matchedVariants"):
        lines.append("Matched variants: " + ", ".join(_md(v) for v in result["matchedVariants"]))
    modifiers = [m for m in result.get("modifiers") or [] if isinstance(m, dict)]
    if modifiers:
        lines += ["", "**Safety and modifiers**"]
        for m in modifiers:
            text = m.get("text") or m.get("title") or m.get("id")
            lines.append(f"- {_md(m.get('title') or m.get('id'))}: {_md(text)}{_evidence(m.get('evidence'))}")
    reasons = [r for r in result.get("reasons") or [] if isinstance(r, dict)]
    found: list[str] = []
    checked: list[str] = []
    for r in reasons:
        text = _md(r.get("text") or r.get("fact"))
        if r.get("evidence"):
            line = f"- {text}{_evidence(r.get('evidence'))}"
            if line not in found:
                found.append(line)
        elif text not in checked:
            checked.append(text)
    if found:
        lines += ["", "**Reasons** (with the FHIR resources behind them)"] + found
    if checked:
        lines += ["", "**Also checked:** " + "; ".join(checked)]
    missing = [m for m in result.get("missing") or [] if isinstance(m, dict)]
    if missing:
        lines += ["", "**Missing information** (record it to get a rating)"]
        for m in missing:
            options = [
                f"{_md(o.get('value'))} → {_md(CATEGORY_TEXT.get(str(o.get('outcome')), o.get('outcome')))}"
                for o in m.get("options") or []
                if isinstance(o, dict)
            ]
            suffix = f" (if {'; '.join(options)})" if options else ""
            lines.append(f"- {_md(m.get('text') or m.get('fact'))}{suffix}")
    issues = [i for i in result.get("dataIssues") or [] if isinstance(i, str)]
    if issues:
        lines += ["", "**Data skipped as malformed**"] + [f"- {_md(i)}" for i in issues[:10]]
    footer: list[str] = []
    if result.get("rrl"):
        footer.append(f"Relative radiation level: {_md(result['rrl'])}")
    if result.get("criteriaVersion"):
        footer.append(f"Criteria version: {_md(result['criteriaVersion'])}")
    source = _obj(result.get("source"))
    if source.get("label"):
        cite = _md(source["label"])
        if source.get("url"):
            cite = f"[{cite}]({source['url']})"
        if source.get("citation"):
            cite += f" — {_md(source['citation'])}"
        footer.append(f"Source: {cite}")
    if result.get("consultationId"):
        footer.append(f"Consultation: {_md(result['consultationId'])}")
    if footer:
        lines += ["", " · ".join(footer)]
    return "\n".join(lines)


def _indicator(result: dict[str, Any]) -> str:
    modifiers = [m for m in result.get("modifiers") or [] if isinstance(m, dict)]
    if any(m.get("indicator") == "critical" for m in modifiers):
        return "critical"
    if result.get("status") == "insufficient-data":
        return "warning"
    if result.get("status") == "rated" and result.get("category") == "usually-not-appropriate":
        return "warning"
    if any(m.get("indicator") == "warning" for m in modifiers):
        return "warning"
    return "info"


def _summary(result: dict[str, Any], study: str) -> str:
    status = result.get("status")
    if status == "rated":
        category = CATEGORY_TEXT.get(str(result.get("category")), str(result.get("category")))
        critical = [
            m
            for m in result.get("modifiers") or []
            if isinstance(m, dict) and m.get("indicator") == "critical"
        ]
        if critical:
            why = str(critical[0].get("title") or "contraindication")
            tail = f": contraindicated ({why}) — {category} ({_score_text(result.get('score'))})"
        else:
            tail = f": {category} ({_score_text(result.get('score'))})"
    elif status == "insufficient-data":
        tail = ": not rated — more clinical information needed"
    else:
        tail = ": no appropriateness criteria apply"
    return _clip(study, SUMMARY_LIMIT - len(tail)) + tail


def _source(result: dict[str, Any], default_label: str) -> dict[str, Any]:
    src = _obj(result.get("source"))
    out: dict[str, Any] = {"label": str(src.get("label") or default_label)}
    if src.get("url"):
        out["url"] = str(src["url"])
    topic = _obj(result.get("topic"))
    if topic.get("id"):
        out["topic"] = {
            "system": TOPIC_SYSTEM,
            "code": str(topic["id"]),
            "display": str(topic.get("title") or topic["id"]),
        }
    return out


def card_for(
    result: dict[str, Any], order: dict[str, Any], *, default_source_label: str
) -> dict[str, Any] | None:
    """One card for an evaluated spine order; None when the order is not spine imaging."""
    status = result.get("status")
    if status not in {"rated", "insufficient-data", "no-criteria"}:
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
    if status == "rated":
        suggestions = _suggestions(result, order)
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = "at-most-one"
    if indicator != "info":
        card["overrideReasons"] = [dict(r) for r in OVERRIDE_REASONS]
    return card


def build_response(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
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
