"""Conservative care received, as interval arithmetic (clinical-rules.md §2.3). Standard library only.

Each therapy item covers an interval of days. A completed item without a length covers its day only and its
true length is unknown: at the lower bound it ends that day, at the upper bound it runs until the next item
starts (or the evaluation date). Intervals are clipped to the episode, and items whose gap to the run so far
is at most ``bridge_days`` join one continuous run (so PT sessions a week apart form one programme). The
management time is the longest run, end − start in days, computed at both bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CareItem:
    """One therapy item: a medication course or a therapy session/programme."""

    ref: str
    label: str  # e.g. "naproxen", "physical therapy"
    start: date
    end: date  # at the lower bound (its own day when the length is unknown)
    length_known: bool = True
    session: bool = False  # a PT/manipulation session: covers its day, its length is known


@dataclass(frozen=True)
class Run:
    """A continuous run of care: [start, end] and the items in it."""

    start: date
    end: date
    items: tuple[CareItem, ...]

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _upper_end(item: CareItem, items: Sequence[CareItem], evaluation: date) -> date:
    """The upper bound of an item of unknown length: until the next item starts, or the evaluation date."""
    later = [o.start for o in items if o.start > item.start]
    return max(item.end, min(later, default=evaluation))


def runs(
    items: Sequence[CareItem], *, episode_start: date, evaluation: date, bridge_days: float, upper: bool
) -> list[Run]:
    """Continuous runs of care within [episode_start, evaluation], at the lower or the upper bound."""
    spans: list[tuple[date, date, CareItem]] = []
    for item in items:
        end = _upper_end(item, items, evaluation) if upper and not item.length_known else item.end
        start, end = max(item.start, episode_start), min(end, evaluation)
        if start <= end:
            spans.append((start, end, item))
    spans.sort(key=lambda s: (s[0], s[1]))
    out: list[Run] = []
    for start, end, item in spans:
        if out and (start - out[-1].end).days <= bridge_days:
            last = out[-1]
            out[-1] = Run(last.start, max(last.end, end), (*last.items, item))
        else:
            out.append(Run(start, end, (item,)))
    return out


def longest(found: Sequence[Run]) -> Run | None:
    """The longest run (the latest of equal ones)."""
    return max(found, key=lambda r: (r.days, r.end), default=None)


@dataclass(frozen=True)
class CareBounds:
    """The longest run at the lower and the upper bound of every unknown length."""

    lower: Run | None
    upper: Run | None

    @property
    def lower_days(self) -> int:
        return self.lower.days if self.lower else 0

    @property
    def upper_days(self) -> int:
        return self.upper.days if self.upper else 0


def care_bounds(
    items: Sequence[CareItem], *, episode_start: date, evaluation: date, bridge_days: float
) -> CareBounds:
    """Longest continuous run of care in the episode, with unknown lengths at their lower and upper bounds."""

    def at(upper: bool) -> Run | None:
        found = runs(
            items, episode_start=episode_start, evaluation=evaluation, bridge_days=bridge_days, upper=upper
        )
        return longest(found)

    lower = at(False)
    return CareBounds(lower, lower if all(i.length_known for i in items) else at(True))


def weeks(days: int) -> float:
    """Days as weeks to one decimal (41 days is 5.9 weeks: decisions compare days, never the rounded weeks)."""
    return round(days / 7, 1)


def describe(run: Run) -> str:
    """The therapies of a run in words: "naproxen 3 weeks, physical therapy 5 sessions over 3 weeks"."""
    parts: list[str] = []
    by_label: dict[str, list[CareItem]] = {}
    for item in run.items:
        by_label.setdefault(item.label, []).append(item)
    for label, group in by_label.items():
        first = min(i.start for i in group)
        last = max(min(i.end, run.end) for i in group)
        span = weeks((last - first).days)
        if all(i.session for i in group):
            n = len(group)
            parts.append(
                f"{label} {n} session{'s' if n != 1 else ''}" + (f" over {span:g} weeks" if n > 1 else "")
            )
        else:
            unknown = " (length not recorded)" if any(not i.length_known for i in group) else ""
            parts.append(f"{label} {span:g} weeks{unknown}")
    return ", ".join(parts)
