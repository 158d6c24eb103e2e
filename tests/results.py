"""Typed results for tests that render or store them (real :class:`app.clinical.result.Result` values)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

from app.clinical.result import (
    Alternative,
    AppliedModifier,
    Coding,
    MissingFact,
    Option,
    ProcedureRef,
    Reason,
    Result,
    Source,
    TopicRef,
    VariantRef,
)
from app.clinical.vocabulary import Category, Indicator, PamaRating, ScoreBasis, Status

CPT = "http://www.ama-assn.org/go/cpt"
MRI_LUMBAR = ProcedureRef(
    "mri-lumbar-wo", "MRI lumbar spine without IV contrast", (Coding(CPT, "72148", "MRI lumbar"),)
)
CT_MYELO = ProcedureRef(
    "ctm-lumbar", "CT myelography lumbar spine", (Coding(CPT, "72265", "CT myelography lumbar"),)
)
LBP = TopicRef("acr-low-back-pain", "Low Back Pain", "2021")
LBP_SOURCE = Source(
    "ACR Appropriateness Criteria® Low Back Pain (2021)",
    "ACR Appropriateness Criteria® Low Back Pain, 2021.",
    "https://acsearch.acr.org/docs/69483/Narrative/",
    "seed",
)

M1 = AppliedModifier(
    id="M1",
    title="MR-unsafe implant",
    effect="contraindicated",
    indicator=Indicator.CRITICAL,
    text="Contraindicated: MR-unsafe implant. CT myelography of the same region is the recommended alternative.",
    evidence=("Device/pacemaker",),
    source="clinical-rules.md §5 M1",
    source_text="…",
)


def rated(n: int = 1, *, order: str = "ServiceRequest/sr1", score: int | None = 8, **changes: Any) -> Result:
    """A rated result (LBP V3, MRI lumbar, usually appropriate) with a fresh consultation id."""
    result = Result(
        consultation_id=f"urn:uuid:{uuid.uuid4()}",
        service_request=order,
        subject="Patient/p1",
        status=Status.RATED,
        evaluation_date=date(2026, 11, 1),
        procedure=MRI_LUMBAR,
        procedure_identified_by="code",
        topic=LBP,
        variant=VariantRef(3, "Subacute or chronic low back pain"),
        matched_variants=(3,),
        category=Category.USUALLY_APPROPRIATE,
        score=score,
        score_basis=ScoreBasis.CATEGORY_MIDPOINT,
        rrl="O",
        pama_rating=PamaRating.APPROPRIATE,
        modifiers=(),
        reasons=(Reason("management_weeks", 7.1, f"n={n}", ("MedicationStatement/ms1",)),),
        missing=(),
        alternatives=(),
        explanation="MRI lumbar spine without IV contrast is usually appropriate.",
        unknowns_not_mattering=(),
        facts_considered=(),
        data_issues=(),
        criteria_version="2026.11-test",
        source=LBP_SOURCE,
        latency_ms=1.5,
    )
    return replace(result, **changes)


def contraindicated() -> Result:
    """MRI with an MR-unsafe implant: usually not appropriate (M1), CT myelography proposed."""
    return rated(
        category=Category.USUALLY_NOT_APPROPRIATE,
        score=2,
        pama_rating=PamaRating.NOT_APPROPRIATE,
        modifiers=(M1,),
        alternatives=(
            Alternative(
                procedure=CT_MYELO,
                category=Category.USUALLY_APPROPRIATE,
                score=8,
                score_basis=ScoreBasis.CATEGORY_MIDPOINT,
                rrl="☢☢☢",
                pama_rating=PamaRating.APPROPRIATE,
                variant=None,
                recommended_by="M1",
            ),
        ),
    )


def insufficient() -> Result:
    """Not rated: the duration of the pain would change the answer."""
    return rated(
        status=Status.INSUFFICIENT_DATA,
        variant=None,
        matched_variants=(1, 3),
        category=None,
        score=None,
        score_basis=None,
        rrl=None,
        pama_rating=None,
        reasons=(),
        missing=(
            MissingFact(
                "duration",
                "How long the low back pain has lasted",
                (
                    Option("acute", "Low Back Pain V1: usually not appropriate"),
                    Option("chronic", "Low Back Pain V3: usually appropriate"),
                ),
            ),
        ),
        explanation="MRI lumbar spine without IV contrast: not rated. Missing data could change the answer.",
    )


def no_criteria(**changes: Any) -> Result:
    """An order no criteria apply to (a chest radiograph)."""
    fields: dict[str, Any] = dict(
        status=Status.NO_CRITERIA,
        procedure=None,
        topic=None,
        variant=None,
        matched_variants=(),
        category=None,
        score=None,
        score_basis=None,
        rrl=None,
        pama_rating=PamaRating.NO_CRITERIA_APPLY,
        reasons=(),
        source=Source("spine-auc criteria"),
    )
    return rated(**{**fields, **changes})
