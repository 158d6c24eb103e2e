"""The result of an order the service did not get to rate (a limit or the time budget was reached; pure)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from app.clinical.records import evaluation_date, ref_of
from app.clinical.report import DEFAULT_SOURCE
from app.clinical.result import Result
from app.clinical.vocabulary import Status
from app.criteria.model import Criteria


def not_rated(order: dict[str, Any], criteria: Criteria, why: str, *, now: datetime | None = None) -> Result:
    """``insufficient-data`` with no category: the order was not evaluated, and the result says why."""
    subject = order.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    return Result(
        consultation_id=f"urn:uuid:{uuid.uuid4()}",
        service_request=ref_of(order),
        subject=reference if isinstance(reference, str) else None,
        status=Status.INSUFFICIENT_DATA,
        evaluation_date=evaluation_date(order, now),
        procedure=None,
        procedure_identified_by="none",
        topic=None,
        variant=None,
        matched_variants=(),
        category=None,
        score=None,
        score_basis=None,
        rrl=None,
        pama_rating=None,
        modifiers=(),
        reasons=(),
        missing=(),
        alternatives=(),
        explanation=f"Not rated: {why}. Ask again with fewer orders, or later.",
        unknowns_not_mattering=(),
        facts_considered=(),
        data_issues=(f"not rated: {why}",),
        criteria_version=criteria.version,
        source=DEFAULT_SOURCE,
    )


def with_data_issues(result: Result, notes: list[str]) -> Result:
    """The result with ``notes`` added to its data issues (input cut to the limits, for example)."""
    if not notes:
        return result
    return replace(result, data_issues=(*result.data_issues, *notes))
