"""Studies rated better than the ordered one, best first (clinical-rules.md §6).

Candidates are the rows of every variant a reading matched. What safety withholds or proposes (MR studies and
CT myelography for an MR-unsafe implant) is decided by :mod:`app.clinical.safety`, after this.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.clinical.engine import Outcome, Reading, row_for
from app.clinical.result import Alternative, Coding, ProcedureRef
from app.clinical.vocabulary import Category, PamaRating, ScoreBasis
from app.criteria.model import Criteria, Procedure, Row

#: On a tie, the less invasive study first.
CONTRAST_ORDER = {"none": 0, "n/a": 1, "iv": 2, "iv-wo-w": 3, "intrathecal": 4, "intradiscal": 5}

#: A candidate row: its category, the row, and the variant that lists it (None: proposed by a modifier).
_Candidate = tuple[str, Row, int | None, str | None]


def concretize(criteria: Criteria, row_proc: Procedure, ordered: Procedure) -> Procedure:
    """A row named for a region group ("spine area of interest") → the orderable study of the ordered region."""
    if row_proc.codes or row_proc.region == ordered.region:
        return row_proc
    for p in criteria.procedures.values():
        if (
            p.modality == row_proc.modality
            and p.contrast == row_proc.contrast
            and p.region == ordered.region
            and ordered.region in criteria.region_coverage.get(row_proc.region, frozenset())
        ):
            return p
    return row_proc


def alternatives(
    criteria: Criteria, readings: Sequence[Reading], proc: Procedure, outcome: Outcome, peds: bool
) -> tuple[Alternative, ...]:
    """Better-rated studies than ``proc`` under ``outcome``, best first."""
    ordered_rank = criteria.category_rank(str(outcome.category))
    best: dict[str, _Candidate] = {}
    for reading in readings:
        topic = criteria.topics[str(reading.outcome.topic)]
        for rated in reading.outcome.ratings:
            for row in topic.variant(rated.variant).rows:
                rank = criteria.category_rank(row.category)
                if row.procedure in best and criteria.category_rank(best[row.procedure][0]) >= rank:
                    continue
                best[row.procedure] = (row.category, row, rated.variant, None)
    # rows that rated the study through a topic's rowCoverage (a child's complete-spine row, §3)
    widened = {r.row.procedure for reading in readings for r in reading.outcome.ratings if r.coverage}
    ranked: list[tuple[tuple[int, int, int, int, int], Alternative]] = []
    for pid, (category, row, variant, recommended_by) in best.items():
        target = criteria.procedures[pid]
        rated_it = pid in widened or row_for(criteria, (row,), proc) is not None
        if pid == proc.id or (recommended_by is None and rated_it):
            continue  # the ordered study itself (or the row that rated it)
        rank = criteria.category_rank(category)
        if rank <= ordered_rank:
            continue
        concrete = concretize(criteria, target, proc)
        rrl = row.rrl_pediatric if peds else row.rrl_adult
        alternative = Alternative(
            procedure=ProcedureRef(
                concrete.id, concrete.display, tuple(Coding.of(c) for c in concrete.codes)
            ),
            category=Category(category),
            score=criteria.midpoint(category),
            score_basis=ScoreBasis.CATEGORY_MIDPOINT,
            rrl=rrl,
            pama_rating=PamaRating(criteria.pama[category]),
            variant=variant,
            recommended_by=recommended_by,
        )
        order_key = (
            -rank,
            0 if concrete.region == proc.region else 1,
            criteria.rrl_rank(rrl),
            0 if recommended_by else 1,
            CONTRAST_ORDER.get(concrete.contrast, 9),
        )
        ranked.append((order_key, alternative))
    ranked.sort(key=lambda pair: pair[0])
    return tuple(alternative for _, alternative in ranked)
