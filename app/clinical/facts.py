"""The clinical facts the engine decides on (clinical-rules.md §1–§2): types only, standard library only.

Each fact is true, false or unknown; unknown facts belong to an :class:`UnknownGroup` whose options are the
consistent joint values the engine may branch over (e.g. an unknown onset makes ``duration_acute``,
``duration_chronic`` and ``pain_over_4_weeks`` unknown *together*, with four consistent possibilities, not
eight). The rules that compute them are in :mod:`app.clinical.fact_rules`; the record they read is
:mod:`app.clinical.records`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Fact:
    name: str
    value: bool | None  # None = unknown
    text: str
    evidence: tuple[str, ...] = ()
    group: str | None = None  # the unknown group this fact belongs to
    reported_as: tuple[str, Any] | None = None  # clinical-rules name and value for the explanation


@dataclass(frozen=True)
class UnknownGroup:
    name: str
    text: str
    options: tuple[tuple[str, dict[str, bool]], ...]  # (label, joint assignment of the group's facts)
    question: str = ""  # the question to the ordering clinician, in words (clinical-rules §4.3, §7)


@dataclass(frozen=True)
class Assumption:
    """A value the engine took without evidence because a setting says so (clinical-rules §2.4), stated."""

    fact: str
    value: bool
    text: str  # e.g. "assumes the patient is a candidate for surgery or intervention; if not, …"
    setting: str  # the criteria setting that made the assumption


class Findings(NamedTuple):
    """What one fact rule concluded: its facts, the unknown groups they belong to, and data issues.

    (A named tuple: immutable, and cheap to build once per rule and evaluation.)
    """

    facts: tuple[Fact, ...] = ()
    groups: tuple[UnknownGroup, ...] = ()
    issues: tuple[str, ...] = ()
    assumptions: tuple[Assumption, ...] = ()


@dataclass
class PatientFacts:
    """Every fact for one order against one patient record (what the engine reads)."""

    evaluation_date: date
    age: int | None
    facts: dict[str, Fact] = field(default_factory=dict)
    groups: dict[str, UnknownGroup] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    assumptions: dict[str, Assumption] = field(default_factory=dict)

    def known(
        self, name: str, value: bool, text: str, evidence: Iterable[str] = (), reported: Any = None
    ) -> None:
        self.facts[name] = Fact(name, value, text, tuple(dict.fromkeys(evidence)), None, reported)

    def unknown(self, group: UnknownGroup, texts: dict[str, str], evidence: Iterable[str] = ()) -> None:
        self.groups[group.name] = group
        ev = tuple(dict.fromkeys(evidence))
        for name, text in texts.items():
            self.facts[name] = Fact(name, None, text, ev, group.name)

    def add(self, findings: Findings) -> None:
        """Merge one rule's findings (a group of the same name replaces the earlier one in place)."""
        for fact in findings.facts:
            self.facts[fact.name] = fact
        for group in findings.groups:
            self.groups[group.name] = group
        self.issues.extend(findings.issues)
        for assumption in findings.assumptions:
            self.assumptions[assumption.fact] = assumption
