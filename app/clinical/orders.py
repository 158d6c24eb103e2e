"""ServiceRequest dict → the ordered procedure(s) in the criteria catalogue (pure).

Order of precedence: a combined-code rule (72148 + 72149; myelography + regional CT "with"), then single
codes (when several codings disagree, their intersection; when that is empty, every candidate, so the
engine reports the ambiguity instead of guessing), then the order's text read with the criteria's text
patterns (flagged as "identified from text").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.clinical.terminology import codings_of, normalise_code, texts_of
from app.criteria.model import Criteria


@dataclass(frozen=True)
class OrderedProcedure:
    candidates: tuple[str, ...]  # catalogue ids; more than one = the order does not say which
    flags: frozenset[str]
    identified_by: str  # "code" | "combination" | "text" | "none"
    detail: str
    codes: tuple[dict[str, str], ...]
    studies_on_order: tuple[str, ...] = ()  # displays of every study when the order carries several regions


def _order_codings(order: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        return [c for c in codings_of(order.get("code")) if c.get("system") and c.get("code")]
    except ValueError:
        return []


#: Regions a study of its own can cover: codes of two of these on one order are two studies (§1.3).
SPLIT_REGIONS = frozenset({"cervical", "thoracic", "lumbar"})


def resolve_studies(order: dict[str, Any], criteria: Criteria) -> tuple[OrderedProcedure, ...]:
    """Every study an order carries: one, or one per region when it carries codes of several (§1.3, §7)."""
    codings = _order_codings(order)
    present = {(str(c["system"]), normalise_code(str(c["system"]), str(c["code"]))) for c in codings}
    if any(
        all(any((s, c) in present for c in g) for s, g in combo.all_of) for combo in criteria.combinations
    ):
        return (resolve_procedure(order, criteria),)
    by_region: dict[str, list[dict[str, Any]]] = {}
    for coding in codings:
        key = (str(coding["system"]), normalise_code(str(coding["system"]), str(coding["code"])))
        entry = criteria.codes.get(key)
        if entry is None:
            continue
        regions = {criteria.procedures[p].region for p in entry.procedures}
        if len(regions) != 1 or not regions <= SPLIT_REGIONS:
            return (resolve_procedure(order, criteria),)
        by_region.setdefault(regions.pop(), []).append(coding)
    if len(by_region) < 2:
        return (resolve_procedure(order, criteria),)
    studies = [
        resolve_procedure({**order, "code": {"coding": part}}, criteria) for part in by_region.values()
    ]
    names = tuple(
        " or ".join(criteria.procedures[p].display for p in s.candidates) for s in studies if s.candidates
    )
    return tuple(
        OrderedProcedure(
            s.candidates,
            s.flags,
            s.identified_by,
            f"{s.detail}; the order carries {len(studies)} studies of different regions, each assessed",
            s.codes,
            names,
        )
        for s in studies
    )


def resolve_procedure(order: dict[str, Any], criteria: Criteria) -> OrderedProcedure:
    codings = _order_codings(order)
    codes = tuple(
        {k: str(c[k]) for k in ("system", "code", "display") if isinstance(c.get(k), str)} for c in codings
    )
    present = {(str(c["system"]), normalise_code(str(c["system"]), str(c["code"]))) for c in codings}

    for combo in criteria.combinations:
        if all(any((system, code) in present for code in group) for system, group in combo.all_of):
            return OrderedProcedure(combo.procedures, frozenset(), "combination", combo.text, codes)

    candidate_sets: list[set[str]] = []
    flags: set[str] = set()
    matched: list[str] = []
    for system, code in sorted(present):
        entry = criteria.codes.get((system, code))
        if entry is not None:
            candidate_sets.append(set(entry.procedures))
            flags |= entry.flags
            matched.append(f"{system}|{code}")
    if candidate_sets:
        common = set.intersection(*candidate_sets)
        chosen = common or set.union(*candidate_sets)
        ordered = tuple(p for p in criteria.procedures if p in chosen)
        detail = f"identified by code {', '.join(matched)}"
        if not common:
            detail += " (the codes disagree; every candidate is rated)"
        refined = _region_from_text(order, criteria, ordered)
        if refined:
            ordered, detail = refined, detail + "; region from the order text"
        return OrderedProcedure(ordered, frozenset(flags), "code", detail, codes)

    from_text = _from_text(order, criteria)
    if from_text is not None:
        return OrderedProcedure(from_text[0], from_text[1], "text", from_text[2], codes)
    reason = (
        "the order has no code"
        if not codings and not texts_of(order.get("code"))
        else ("the order's code is not a spine imaging procedure we know")
    )
    return OrderedProcedure((), frozenset(), "none", reason, codes)


#: Regions a code may leave open (a SPECT code names no body part): the order text may narrow them.
OPEN_REGIONS = frozenset({"whole-body", "spine-unspecified"})


def _region_from_text(
    order: dict[str, Any], criteria: Criteria, candidates: tuple[str, ...]
) -> tuple[str, ...] | None:
    """Same-modality studies of the region the order text names, when the code names no region."""
    procs = [criteria.procedures[p] for p in candidates]
    if not procs or any(p.region not in OPEN_REGIONS for p in procs):
        return None
    from_text = _from_text(order, criteria)
    if from_text is None:
        return None
    modalities = {p.modality for p in procs}
    narrowed = tuple(
        p
        for p in from_text[0]
        if criteria.procedures[p].modality in modalities and criteria.procedures[p].region not in OPEN_REGIONS
    )
    return narrowed or None


def _first(text: str, patterns: dict[str, tuple[str, ...]]) -> str | None:
    for key, words in patterns.items():
        if any(w in text for w in words):
            return key
    return None


def _from_text(
    order: dict[str, Any], criteria: Criteria
) -> tuple[tuple[str, ...], frozenset[str], str] | None:
    texts = texts_of(order.get("code")) if isinstance(order.get("code"), dict) else []
    if not texts or not criteria.text_patterns:
        return None
    text = " " + " ".join(texts).lower() + " "
    pats = criteria.text_patterns
    modality = _first(text, pats.get("modality", {}))
    region = _first(text, pats.get("region", {}))
    if modality is None or region is None:
        return None
    contrast = _first(text, pats.get("contrast", {}))
    flags = frozenset(f for f, words in pats.get("flags", {}).items() if any(w in text for w in words))
    candidates = tuple(
        p.id
        for p in criteria.procedures.values()
        if p.modality == modality
        and p.region == region
        and (
            contrast is None or p.contrast == contrast or p.contrast in ("n/a", "intrathecal", "intradiscal")
        )
    )
    if not candidates:
        return None
    detail = f"identified from the order text {' / '.join(texts)!r} (no recognised code)"
    return candidates, flags, detail
