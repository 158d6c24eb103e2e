"""Bounded work per request: the configured limits, the 4xx when one is exceeded, the evaluation budget.

Settings (``app/config.py``, README "Limits"): ``MAX_CODE_LENGTH``, ``MAX_TEXT_LENGTH``,
``MAX_ORDERS_PER_CALL``, ``MAX_PREFETCH_RESOURCES``, ``MAX_MEDICATION_READS``,
``EVALUATION_BUDGET_SECONDS``. Over a count limit the caller gets a 422 OperationOutcome
(``too-costly``); orders the time budget does not reach are answered "not rated: time budget reached".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from flask import current_app

from app.clinical.input_limits import InputLimits, clip_codes_and_texts, within_limits
from app.clinical.not_rated import not_rated
from app.clinical.result import Result
from app.errors import SpineAucError

T = TypeVar("T")

TIME_BUDGET_REACHED = "time budget reached (EVALUATION_BUDGET_SECONDS)"


class LimitReached(SpineAucError):
    """The request asks for more work than one call may do (a configured limit)."""

    status = 422
    issue_code = "too-costly"


def _setting(name: str, default: Any) -> Any:
    return current_app.config.get(name, default)


def input_limits() -> InputLimits:
    return InputLimits(
        max_code_length=int(_setting("MAX_CODE_LENGTH", 100)),
        max_text_length=int(_setting("MAX_TEXT_LENGTH", 4096)),
    )


def clip_input(body: Any) -> list[str]:
    """Cut over-long codes and texts of a request body in place (before any matching); the notes.

    The body is encoded once (``orjson``, ~30 µs for 50 resources) to prove nothing exceeds the limits at C
    speed; only a body that may hold an over-long string, or that cannot be encoded (a lone surrogate, a
    nesting deeper than 254), is walked.
    """
    limits = input_limits()
    try:
        if within_limits(orjson.dumps(body), limits):
            return []
    except TypeError:  # orjson.JSONEncodeError
        pass
    return clip_codes_and_texts(body, limits)


def max_prefetch_resources() -> int:
    return int(_setting("MAX_PREFETCH_RESOURCES", 2000))


def max_medication_reads() -> int:
    return int(_setting("MAX_MEDICATION_READS", 50))


def check_order_count(count: int, where: str) -> None:
    """422 when a call carries more orders than ``MAX_ORDERS_PER_CALL``."""
    limit = int(_setting("MAX_ORDERS_PER_CALL", 100))
    if count > limit:
        raise LimitReached(
            f"{count} orders in {where}; at most {limit} per call (MAX_ORDERS_PER_CALL): "
            "send them in several calls",
            expression=[where],
        )


class EvaluationBudget:
    """A per-request deadline on evaluation (``EVALUATION_BUDGET_SECONDS``)."""

    def __init__(self, seconds: float | None = None):
        self.seconds = float(_setting("EVALUATION_BUDGET_SECONDS", 10.0)) if seconds is None else seconds
        self._ends = time.monotonic() + self.seconds

    def spent(self) -> bool:
        return time.monotonic() >= self._ends


def within_budget(
    items: Sequence[T],
    order_of: Callable[[T], dict[str, Any]],
    evaluate: Callable[[T], Result],
    criteria: Any,
    budget: EvaluationBudget,
) -> list[Result]:
    """Evaluate each item while the budget lasts; the rest are "not rated: time budget reached"."""
    results: list[Result] = []
    for item in items:
        if budget.spent():
            results.append(not_rated(order_of(item), criteria, TIME_BUDGET_REACHED))
        else:
            results.append(evaluate(item))
    return results
