"""The closed vocabularies of a result (clinical-rules.md §7): statuses, categories, PAMA ratings.

``StrEnum`` members are their string values, so JSON output and comparisons with plain strings are unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """What the service could say about one order."""

    RATED = "rated"
    INSUFFICIENT_DATA = "insufficient-data"
    NO_CRITERIA = "no-criteria"
    NOT_APPLICABLE = "not-applicable"


class Category(StrEnum):
    """ACR appropriateness categories (the criteria's ``categories`` declare rank, midpoint and display)."""

    USUALLY_APPROPRIATE = "usually-appropriate"
    MAY_BE_APPROPRIATE = "may-be-appropriate"
    MAY_BE_APPROPRIATE_DISAGREEMENT = "may-be-appropriate-disagreement"
    USUALLY_NOT_APPROPRIATE = "usually-not-appropriate"


class PamaRating(StrEnum):
    """The Argonaut PAMA rating codes."""

    APPROPRIATE = "appropriate"
    NOT_APPROPRIATE = "not-appropriate"
    NO_CRITERIA_APPLY = "no-criteria-apply"


class ScoreBasis(StrEnum):
    """Where a score comes from: the panel's rating of the row, or the midpoint of the category."""

    PANEL_RATING = "panel-rating"
    CATEGORY_MIDPOINT = "category-midpoint"


class Indicator(StrEnum):
    """How loudly a modifier speaks (CDS Hooks card indicators)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
