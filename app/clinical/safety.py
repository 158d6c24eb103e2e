"""Safety checks (clinical-rules.md §5.1, §5.4): one step after routing, for every spine study and status.

MR safety of implants reads the device facts (``mr_unsafe_device``, ``mr_unknown_device``,
``mr_conditional_device``, from :func:`app.clinical.fact_rules.devices`); pregnancy reads ``pregnant``. The step
takes an :class:`~app.clinical.conclusion.Assessment` and returns it with ``safety`` entries, the implant among the
reasons, and — for an MR-unsafe implant — the MR order downgraded, MR alternatives withheld and CT myelography
rated like MRI without contrast (both as an alternative and as an ordered study). Other checks (region
concordance, §3 step 5) append their own :class:`~app.clinical.result.SafetyEntry` to the same tuple.
Pure: standard library and the criteria model only.
"""

from __future__ import annotations

from dataclasses import replace

from app.clinical.alternatives import alternatives
from app.clinical.conclusion import Assessment
from app.clinical.engine import row_for
from app.clinical.facts import Fact, PatientFacts
from app.clinical.result import Alternative, Coding, MissingFact, ProcedureRef, Reason, SafetyEntry
from app.clinical.vocabulary import Category, Indicator, PamaRating, ScoreBasis, Status
from app.criteria.model import Criteria, Procedure

#: procedures.json modalities that put the patient in the scanner's magnetic field
MR_MODALITIES = frozenset({"MR", "MRA"})
#: procedures.json modalities without ionizing radiation (everything else irradiates)
NON_IONIZING_MODALITIES = MR_MODALITIES | {"US"}
#: procedures.json contrast values that mean IV gadolinium on an MR study
GADOLINIUM_CONTRAST = frozenset({"iv", "iv-wo-w"})
#: what stands in for MRI when the patient cannot enter the scanner (clinical-rules §5.1)
CT_MYELOGRAPHY = "CTM"
MRI, NO_CONTRAST = "MR", "none"

MR_CHECK, PREGNANCY_CHECK = "mr-safety", "pregnancy"
UNSAFE, UNKNOWN, CONDITIONAL = "unsafe", "unknown", "conditional"
#: MR status facts, most cautious first: the patient's status is the first one that is true
MR_STATUS = (
    ("mr_unsafe_device", UNSAFE),
    ("mr_unknown_device", UNKNOWN),
    ("mr_conditional_device", CONDITIONAL),
)

_ORDER = {Indicator.CRITICAL: 0, Indicator.WARNING: 1, Indicator.INFO: 2}


def mr_status(facts: PatientFacts) -> tuple[str, Fact] | None:
    """The patient's MR status and the fact behind it (unsafe > unknown > conditional); None: no implant.

    Device records that could not be obtained make the status unknown (the implant cannot be excluded).
    """
    for name, status in MR_STATUS:
        fact = facts.facts.get(name)
        if fact is not None and fact.value is True:
            return status, fact
    for name, _ in MR_STATUS:
        fact = facts.facts.get(name)
        if fact is not None and fact.value is None:
            return UNKNOWN, fact
    return None


def implants(fact: Fact) -> str:
    """The implants a device fact names (its ``reported_as`` value), else its text."""
    if fact.reported_as and isinstance(fact.reported_as[1], str):
        return fact.reported_as[1]
    return fact.text


def is_mr(proc: Procedure) -> bool:
    return proc.modality in MR_MODALITIES


def check(a: Assessment, facts: PatientFacts, criteria: Criteria) -> Assessment:
    """Run the §5 checks on one assessment (a study that is not spine imaging gets none)."""
    if a.status is Status.NOT_APPLICABLE or a.procedure is None:
        return a
    child = facts.facts.get("age_under_18")
    a = _mr_safety(a, facts, criteria, bool(child and child.value))
    a = _pregnancy(a, facts)
    return replace(a, safety=tuple(sorted(a.safety, key=lambda e: _ORDER.get(e.indicator, 9))))


# --- MR safety (§5.1) --------------------------------------------------------------------------------------------


def _mr_safety(a: Assessment, facts: PatientFacts, criteria: Criteria, peds: bool) -> Assessment:
    found = mr_status(facts)
    if found is None:
        return a
    status, fact = found
    assert a.procedure is not None
    names = implants(fact) if fact.value else "Device resources could not be obtained"
    mr_order = is_mr(a.procedure)
    if status == UNSAFE:
        a = _unsafe(a, criteria, peds)
        if mr_order:
            entry = SafetyEntry(
                MR_CHECK,
                UNSAFE,
                Indicator.CRITICAL,
                f"contraindicated: MR-unsafe implant ({names})",
                fact.evidence,
            )
        else:
            entry = SafetyEntry(
                MR_CHECK,
                UNSAFE,
                Indicator.INFO,
                f"MR alternatives withheld: MR-unsafe implant ({names})",
                fact.evidence,
            )
        reason = Reason(fact.name, True, f"MR-unsafe implant: {names}", fact.evidence)
        return replace(a, safety=(*a.safety, entry), reasons=_with_reason(a.reasons, reason))
    mr_alternatives = any(_alt_is_mr(criteria, alt) for alt in a.alternatives)
    if not (mr_order or mr_alternatives):
        return a
    if status == UNKNOWN:
        text = f"implant of unknown MR status ({names}): confirm MR safety before scanning"
    else:
        text = f"MR-conditional implant ({names}): use the device's MR-conditional protocol"
    if not mr_order:
        text += " (applies to the MR alternatives)"
    entry = SafetyEntry(MR_CHECK, status, Indicator.WARNING, text, fact.evidence)
    reason = Reason(fact.name, True if fact.value else "unknown", fact.text, fact.evidence)
    return replace(a, safety=(*a.safety, entry), reasons=_with_reason(a.reasons, reason))


def _with_reason(reasons: tuple[Reason, ...], reason: Reason) -> tuple[Reason, ...]:
    return reasons if any(r.fact == reason.fact for r in reasons) else (*reasons, reason)


def _alt_is_mr(criteria: Criteria, alt: Alternative) -> bool:
    proc = criteria.procedures.get(alt.procedure.id)
    return proc is not None and is_mr(proc)


def _same_region(criteria: Criteria, modality: str, contrast: str | None, region: str) -> Procedure | None:
    return next(
        (
            p
            for p in criteria.procedures.values()
            if p.modality == modality and p.region == region and (contrast is None or p.contrast == contrast)
        ),
        None,
    )


def _mri_wo_category(a: Assessment, criteria: Criteria, region: str) -> Category | None:
    """The best category the matched variant(s) give MRI without contrast of the region (None: not listed)."""
    mri = _same_region(criteria, MRI, NO_CONTRAST, region)
    if mri is None:
        return None
    best: Category | None = None
    for reading in a.readings:
        if reading.outcome.topic is None:
            continue
        topic = criteria.topics[reading.outcome.topic]
        for rated in reading.outcome.ratings:
            row = row_for(criteria, topic.variant(rated.variant).rows, mri)
            if row is not None and (
                best is None or criteria.category_rank(row.category) > criteria.category_rank(best)
            ):
                best = Category(row.category)
    return best


def _unsafe(a: Assessment, criteria: Criteria, peds: bool) -> Assessment:
    """Downgrade an MR order, lift an ordered CT myelography, withhold MR alternatives, offer CT myelography."""
    proc = a.procedure
    assert proc is not None
    if a.status is Status.INSUFFICIENT_DATA and is_mr(proc):
        return replace(a, missing=tuple(_contraindicated_options(m, criteria) for m in a.missing))
    if a.status is not Status.RATED or a.category is None or not a.readings:
        return a
    una = Category.USUALLY_NOT_APPROPRIATE
    stand_in = _mri_wo_category(a, criteria, proc.region)
    lifts = stand_in is not None and criteria.category_rank(stand_in) > criteria.category_rank(una)
    category = a.category
    if is_mr(proc):
        category = una
    elif (
        proc.modality == CT_MYELOGRAPHY
        and lifts
        and stand_in is not None
        and criteria.category_rank(stand_in) > criteria.category_rank(category)
    ):
        category = stand_in
    if category != a.category:
        a = replace(
            a,
            category=category,
            score=criteria.midpoint(category),
            score_basis=ScoreBasis.CATEGORY_MIDPOINT,
            pama=PamaRating(criteria.pama[category]),
        )
    outcome = replace(a.readings[0].outcome, category=category)
    alts = [
        alt
        for alt in alternatives(criteria, a.readings, proc, outcome, peds)
        if not _alt_is_mr(criteria, alt)
    ]
    ctm = _same_region(criteria, CT_MYELOGRAPHY, None, proc.region)
    if (
        ctm is not None
        and stand_in is not None
        and lifts
        and proc.modality != CT_MYELOGRAPHY
        and criteria.category_rank(stand_in) > criteria.category_rank(category)
    ):
        alts = [alt for alt in alts if alt.procedure.id != ctm.id]
        alts.append(_ctm_alternative(a, criteria, ctm, stand_in, peds))
        alts.sort(key=lambda alt: -criteria.category_rank(alt.category))
    return replace(a, alternatives=tuple(alts))


def _contraindicated_options(missing: MissingFact, criteria: Criteria) -> MissingFact:
    """What each answer gives an MR order in an MR-unsafe patient: its variant, usually not appropriate."""
    una = criteria.categories[Category.USUALLY_NOT_APPROPRIATE]["display"].lower()
    words = sorted((str(c["display"]).lower() for c in criteria.categories.values()), key=len, reverse=True)

    def downgraded(outcome: str) -> str:
        parts = []
        for part in outcome.split(" or "):
            head, sep, tail = part.rpartition(": ")
            category = next((w for w in words if tail.startswith(w)), None)
            parts.append(f"{head}{sep}{una}{tail[len(category) :]}" if sep and category else part)
        return " or ".join(sorted(dict.fromkeys(parts)))

    return replace(missing, options=tuple(replace(o, outcome=downgraded(o.outcome)) for o in missing.options))


def _ctm_alternative(
    a: Assessment, criteria: Criteria, ctm: Procedure, category: Category, peds: bool
) -> Alternative:
    rrl = None
    variant = a.variant
    for reading in a.readings:
        if reading.outcome.topic is None:
            continue
        topic = criteria.topics[reading.outcome.topic]
        for rated in reading.outcome.ratings:
            row = row_for(criteria, topic.variant(rated.variant).rows, ctm)
            if row is not None and rrl is None:
                rrl = row.rrl_pediatric if peds else row.rrl_adult
    return Alternative(
        procedure=ProcedureRef(ctm.id, ctm.display, tuple(Coding.of(c) for c in ctm.codes)),
        category=category,
        score=criteria.midpoint(category),
        score_basis=ScoreBasis.CATEGORY_MIDPOINT,
        rrl=rrl,
        pama_rating=PamaRating(criteria.pama[category]),
        variant=variant,
        recommended_by=MR_CHECK,
    )


# --- pregnancy (§5.4) --------------------------------------------------------------------------------------------

PREGNANCY_SOURCE = "ACR Appropriateness Criteria do not rate pregnancy: the rating is unchanged"


def _pregnancy(a: Assessment, facts: PatientFacts) -> Assessment:
    fact = facts.facts.get("pregnant")
    proc = a.procedure
    if fact is None or fact.value is not True or proc is None:
        return a
    source = ", ".join(fact.evidence) or "the record"
    if proc.modality not in NON_IONIZING_MODALITIES:
        text = "pregnant: ionizing radiation; MRI without contrast is the usual alternative"
    elif is_mr(proc) and proc.contrast in GADOLINIUM_CONTRAST:
        text = "gadolinium in pregnancy: only if essential"
    else:
        return a
    entry = SafetyEntry(
        PREGNANCY_CHECK,
        "pregnant",
        Indicator.WARNING,
        f"{text} (pregnancy recorded in {source}; {PREGNANCY_SOURCE})",
        fact.evidence,
    )
    return replace(a, safety=(*a.safety, entry))
