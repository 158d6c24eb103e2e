"""One rule per fact family, in a registry (clinical-rules.md §2). Standard library only.

A rule is a plain function of (the record index, the criteria, the evaluation date) → :class:`Findings`,
registered with :func:`rule`, which declares the facts it produces, the settings.json ``facts`` entries
whose value sets it reads (``sources``) and the thresholds it reads (``settings``). Rules share nothing but
the immutable :class:`~app.clinical.records.RecordIndex` (which computes the back-pain episode once); the one
rule that extends another's unknown group says so (``refines``). The registry is the single list of base
facts: the criteria loader checks fact references against :func:`base_fact_names`, and
``spine-auc criteria facts`` lists it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from app.clinical.care import CareItem, care_bounds
from app.clinical.care import describe as describe_run
from app.clinical.care import runs as care_runs
from app.clinical.care import weeks as care_weeks
from app.clinical.facts import Assumption, Fact, Findings, PatientFacts, UnknownGroup
from app.clinical.records import (
    EPISODE_DEFAULT_SETTING,
    EPISODE_SOURCE,
    EPISODE_SYMPTOM_SOURCE,
    ConditionInfo,
    Interval,
    RecordIndex,
    parse_date,
    read_record,
    ref_of,
    value_sets_of,
)
from app.clinical.terminology import (
    Match,
    codings_of,
    display_code,
    match_any,
    name_tags,
    normalise_code,
    texts_of,
)
from app.criteria.model import ICD10CM, Criteria, ValueSet

RuleFn = Callable[[RecordIndex, Criteria, date], Findings]

#: procedures.json modality of a radiograph (a spine radiograph = a code whose procedures are all radiographs)
RADIOGRAPH_MODALITY = "XR"
#: settings.json threshold: gaps of up to this many days between therapy items are bridged (§2.3)
CARE_BRIDGE_SETTING = "careGapBridgeDays"
#: settings.json threshold (clinical-rules §2.4 setting ``assume_intervention_candidate``): 1 assume, 0 ask
ASSUME_CANDIDATE_SETTING = "assumeInterventionCandidate"


@dataclass(frozen=True)
class FactRule:
    """A registered rule and what it declares about itself."""

    name: str  # the fact family (several entries may share one, e.g. ``condition_present``)
    compute: RuleFn
    produces: tuple[str, ...]
    sources: tuple[str, ...]  # settings.json "facts" entries whose value sets it reads
    settings: tuple[str, ...]  # settings.json thresholds it reads
    refines: tuple[str, ...] = ()  # unknown groups of earlier rules it may replace with a joint group
    uncodable: bool = False  # also produces every settings.json "uncodableFacts" entry
    reads: str = ""  # another criteria table it reads, in words
    codes: Callable[[Criteria], list[tuple[str, str]]] | None = None  # the (system, code)s of that table

    @property
    def description(self) -> str:
        return (self.compute.__doc__ or self.name).strip().splitlines()[0]


_RULES: list[FactRule] = []


def rule(
    name: str,
    *,
    produces: Sequence[str],
    sources: Sequence[str] = (),
    settings: Sequence[str] = (),
    refines: Sequence[str] = (),
    uncodable: bool = False,
    reads: str = "",
    codes: Callable[[Criteria], list[tuple[str, str]]] | None = None,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule; rules run in registration order. A fact has exactly one rule."""

    def register(fn: RuleFn) -> RuleFn:
        taken = base_fact_names() & set(produces)
        if taken:
            raise ValueError(f"rule {name}: {sorted(taken)} already have a rule")
        _RULES.append(
            FactRule(
                name,
                fn,
                tuple(produces),
                tuple(sources),
                tuple(settings),
                tuple(refines),
                uncodable,
                reads,
                codes,
            )
        )
        return fn

    return register


def rules() -> tuple[FactRule, ...]:
    """Every registered rule, in evaluation order."""
    return tuple(_RULES)


def base_fact_names() -> frozenset[str]:
    """Every fact a rule computes from the record (derived and uncodable facts are declared in settings.json)."""
    return frozenset(name for r in _RULES for name in r.produces)


def build_facts(
    criteria: Criteria,
    *,
    order: dict[str, Any],
    order_reasons: list[Any],
    patient: dict[str, Any] | None,
    resources: dict[str, list[dict[str, Any]]],
    unavailable: set[str],
    evaluation: date,
) -> PatientFacts:
    """Every base fact for one order against one patient record."""
    index = read_record(
        criteria,
        order=order,
        order_reasons=order_reasons,
        patient=patient,
        resources=resources,
        unavailable=unavailable,
        evaluation=evaluation,
    )
    return facts_of(index, criteria, evaluation)


def facts_of(index: RecordIndex, criteria: Criteria, evaluation: date) -> PatientFacts:
    """Run every rule on one record index."""
    pf = PatientFacts(evaluation_date=evaluation, age=index.age, issues=list(index.issues))
    for r in _RULES:
        pf.add(r.compute(index, criteria, evaluation))
    return pf


# --- building findings -------------------------------------------------------------------------------------------


class _Out:
    """A rule's findings while it computes them (local to one call)."""

    __slots__ = ("facts", "groups", "issues")

    def __init__(self) -> None:
        self.facts: dict[str, Fact] = {}
        self.groups: dict[str, UnknownGroup] = {}
        self.issues: list[str] = []

    def known(
        self, name: str, value: bool, text: str, evidence: Iterable[str] = (), reported: Any = None
    ) -> None:
        self.facts[name] = Fact(name, value, text, tuple(dict.fromkeys(evidence)), None, reported)

    def unknown(self, group: UnknownGroup, texts: dict[str, str], evidence: Iterable[str] = ()) -> None:
        self.groups[group.name] = group
        ev = tuple(dict.fromkeys(evidence))
        for name, text in texts.items():
            self.facts[name] = Fact(name, None, text, ev, group.name)

    def unavailable(self, criteria: Criteria, names: Iterable[str], rtype: str) -> None:
        """The facts are unknown because the resources they are read from could not be obtained."""
        text = f"{rtype} resources could not be obtained"
        for name in names:
            label = criteria.fact_texts.get(name, name)
            question = f"{label}: is this present? (the record's {rtype} resources could not be obtained)"
            self.unknown(bool_group(name, f"{label}: {text}", question=question), {name: text})

    def findings(self) -> Findings:
        return Findings(tuple(self.facts.values()), tuple(self.groups.values()), tuple(self.issues))


def bool_group(
    name: str,
    text: str,
    *,
    group: str | None = None,
    labels: tuple[str, str] = ("yes", "no"),
    question: str = "",
) -> UnknownGroup:
    """An unknown boolean fact as its own group (named after the clinical-rules fact where that differs).

    The "false" reading comes first: when every reading agrees, the reported variant is the one the record
    supports without assuming the finding.
    """
    return UnknownGroup(
        group or name, text, ((labels[1], {name: False}), (labels[0], {name: True})), question
    )


def numeric_options(
    cuts: Sequence[tuple[float, str]], assign: Callable[[float], dict[str, bool]], unit: str
) -> tuple[tuple[str, dict[str, bool]], ...]:
    """Consistent joint values of facts derived from one unknown number, labelled by range."""
    points = sorted({max(0.0, p) for t, _ in cuts for p in (t - 1, t, t + 1)} | {0.0})
    options: list[tuple[float, float, dict[str, bool]]] = []
    for p in points:
        a = assign(p)
        if options and options[-1][2] == a:
            options[-1] = (options[-1][0], p, a)
        else:
            options.append((p, p, a))
    out = []
    for i, (lo, hi, a) in enumerate(options):
        if i == len(options) - 1:
            label = f"{lo:g} {unit} or more"
        elif lo == hi:
            label = f"{lo:g} {unit}"
        else:
            label = f"{lo:g}–{hi:g} {unit}"
        out.append((label, a))
    return tuple(out)


# --- queries of the index by settings.json fact entry ------------------------------------------------------------


def _conditions(index: RecordIndex, criteria: Criteria, source: str) -> list[tuple[ConditionInfo, Match]]:
    sets = value_sets_of(criteria, source)
    return index.conditions_in(sets.conditions, sets.history)


def _reasons(index: RecordIndex, criteria: Criteria, source: str) -> list[str]:
    return index.reasons_in(value_sets_of(criteria, source).reasons)


def _medications(index: RecordIndex, criteria: Criteria, source: str) -> list[tuple[Interval, Match]]:
    return index.medications_in(value_sets_of(criteria, source).medications)


def _procedures(index: RecordIndex, criteria: Criteria, source: str) -> list[tuple[Interval, Match]]:
    return index.procedures_in(value_sets_of(criteria, source).procedures)


# --- the rules, in evaluation order ------------------------------------------------------------------------------

AGE_FACTS = ("age_under_16", "age_under_18", "elderly")


@rule(
    "age",
    produces=AGE_FACTS,
    settings=("childTraumaAgeBelow", "pediatricAgeBelow", "elderlyAgeAbove"),
)
def age(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Age bands from Patient.birthDate on the evaluation date; unknown together when there is no birth date."""
    out = _Out()
    patient, t = index.patient, criteria.thresholds
    limits = (t["childTraumaAgeBelow"], t["pediatricAgeBelow"], t["elderlyAgeAbove"])
    if index.birth is None:
        why = "no Patient resource" if not isinstance(patient, dict) else "Patient.birthDate is missing"
        if "Patient" in index.unavailable:
            why = "the Patient resource could not be obtained"
        options: list[tuple[str, dict[str, bool]]] = []
        for label, years in (  # adult options first: the reported topic defaults to the common case
            (f"{limits[1]:g}–{limits[2]:g}", limits[2]),
            (f"over {limits[2]:g}", limits[2] + 1),
            (f"under {limits[0]:g}", limits[0] - 1),
            (f"{limits[0]:g}–{limits[1] - 1:g}", limits[1] - 1),
        ):
            options.append(
                (
                    label,
                    {
                        "age_under_16": years < limits[0],
                        "age_under_18": years < limits[1],
                        "elderly": years > limits[2],
                    },
                )
            )
        group = UnknownGroup("age", f"Patient age ({why})", tuple(options))
        out.unknown(group, {n: f"age unknown: {why}" for n in AGE_FACTS})
        return out.findings()
    birth = index.birth
    years_old = index.age
    assert years_old is not None
    ref = ref_of(patient) if isinstance(patient, dict) else "Patient/?"
    text = f"Age {years_old} (born {birth.isoformat()})"
    out.known("age_under_16", years_old < limits[0], text, [ref], ("age", years_old))
    out.known("age_under_18", years_old < limits[1], text, [ref], ("age", years_old))
    older = years_old > limits[2]
    out.known(
        "elderly",
        older,
        f"Age {years_old}: {'older than' if older else 'not older than'} {limits[2]:g} "
        f"({criteria.threshold_texts['elderlyAgeAbove']})",
        [ref],
        ("elderly", older),
    )
    return out.findings()


def _condition_present(out: _Out, index: RecordIndex, criteria: Criteria, fact: str) -> None:
    matches = _conditions(index, criteria, fact)
    reasons = _reasons(index, criteria, fact)
    label = criteria.fact_texts.get(fact, fact)
    if matches or reasons:
        refs = [c.ref for c, _ in matches] + reasons
        suspected = any(c.suspected for c, _ in matches)
        how = " (suspected)" if suspected and not reasons else ""
        src = "the order's reason" if reasons and not matches else f"{len(matches)} Condition(s)"
        weak = (
            " (weak evidence: only non-specific codes)"
            if matches and not reasons and all(m.weak for _, m in matches)
            else ""
        )
        out.known(fact, True, f"{label}: present{how}, from {src}{weak}", refs, (fact, True))
    elif "Condition" in index.unavailable:
        out.unavailable(criteria, [fact], "Condition")
    else:
        out.known(fact, False, f"{label}: none recorded", [], (fact, False))


def _register_condition_present(fact: str) -> None:
    def condition_present(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
        """Present when a current Condition (or history code) or the order's reason is in the fact's value sets."""
        out = _Out()
        _condition_present(out, index, criteria, fact)
        return out.findings()

    rule("condition_present", produces=(fact,), sources=(fact,))(condition_present)


#: Facts that are simply "a Condition or the order's reason is coded in the fact's value sets".
CONDITION_FACTS = (
    "osteoporosis",
    "spondylolisthesis",
    "inflammatory_spine_disease",
    "neuro_deficit",
    "radicular_pain",
    "myelopathy",
    "thoracolumbar_trauma",
)
for _fact in CONDITION_FACTS:
    _register_condition_present(_fact)


# --- red flags: coded, and suggested (clinical-rules §2.5) ----------------------------------------------------------

#: fact → (the settings.json entry of the findings that suggest it, the question's subject)
SUGGESTED_FLAGS = {
    "cauda_equina_suspected": ("cauda_equina_suggested", "is cauda equina syndrome suspected?"),
    "cancer": ("cancer_suggested", "is cancer suspected?"),
    "infection": ("infection_suggested", "is spinal infection suspected?"),
}
SUGGESTING_WINDOW_SETTING = "suggestingFindingDaysWithoutEpisode"


def suggesting_findings(
    index: RecordIndex, criteria: Criteria, source: str, evaluation: date
) -> list[tuple[ConditionInfo, Match]]:
    """Active findings of a settings.json entry recorded within the episode (within the window when the
    episode is unknown); old or resolved findings suggest nothing. An undated finding counts (asked)."""
    since = (
        index.episode.start
        if index.episode.known
        else evaluation - timedelta(days=criteria.thresholds[SUGGESTING_WINDOW_SETTING])
    )
    found = _conditions(index, criteria, source)
    return [(c, m) for c, m in found if c.counted and (c.dated is None or since <= c.dated <= evaluation)]


def finding_names(found: Sequence[tuple[ConditionInfo, Match]], criteria: Criteria) -> list[str]:
    """The suggesting findings in words: each finding value set's title ("fever", "IV drug use")."""
    return list(dict.fromkeys(criteria.value_sets[m.value_set].title for _, m in found))


def condition_names(found: Sequence[tuple[ConditionInfo, Match]]) -> list[str]:
    """Coded conditions in words: the Condition's text, else its code."""
    names = []
    for cond, m in found:
        texts = texts_of(cond.code)
        names.append((texts[0] if texts else display_code(*m.code.split("|", 1))).lower())
    return list(dict.fromkeys(names))


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _register_red_flag(fact: str) -> None:
    source, subject = SUGGESTED_FLAGS[fact]

    def red_flag(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
        """Coded red flag (confirmed or suspected); else findings that suggest it make it unknown, asked."""
        out = _Out()
        _condition_present(out, index, criteria, fact)
        present = out.facts[fact]
        if present.value:
            coded = condition_names(_conditions(index, criteria, fact))
            if coded:  # name what was found ("personal history of malignant neoplasm of prostate")
                out.facts[fact] = replace(present, text=f"{present.text}: {_and(coded)}")
        if present.value is not False or not index.episode.conditions:
            return out.findings()
        found = suggesting_findings(index, criteria, source, evaluation)
        if found:
            listed = finding_names(found, criteria)
            names = _and(listed)
            verb = "is" if len(listed) == 1 else "are"
            label = criteria.fact_texts.get(fact, fact)
            group = bool_group(
                fact,
                f"{label}: {names} {verb} recorded with back pain (a suggested red flag is asked, never inferred)",
                question=f"{names[0].upper()}{names[1:]} {verb} recorded: {subject}",
            )
            out.unknown(group, {fact: f"suggested by {names}; not confirmed"}, [c.ref for c, _ in found])
        return out.findings()

    rule(
        "red_flag",
        produces=(fact,),
        sources=(fact, source),
        settings=(SUGGESTING_WINDOW_SETTING,),
    )(red_flag)


for _fact in SUGGESTED_FLAGS:
    _register_red_flag(_fact)


@rule(
    "progressive_deficit",
    produces=("progressive_deficit",),
    sources=("progressive_deficit_suggested",),
    settings=(SUGGESTING_WINDOW_SETTING,),
)
def progressive_deficit(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Never inferred (§2.5): motor deficit findings with back pain make it unknown and asked; else false."""
    out = _Out()
    found = (
        suggesting_findings(index, criteria, "progressive_deficit_suggested", evaluation)
        if index.episode.conditions
        else []
    )
    if found:
        listed = finding_names(found, criteria)
        names = _and(listed)
        verb = "is" if len(listed) == 1 else "are"
        group = UnknownGroup(
            "progressive_deficit",
            f"Severe or rapidly progressive neurologic deficit: {names} {verb} recorded with back pain; the "
            "severity is not in the record. If yes, Low Back Pain V4's table is used (an interpretation: ACR's "
            "2015 variant 6 combined cauda equina and rapidly progressive deficit; the 2016 narrative recommends "
            "MRI)",
            (
                ("no", {"progressive_deficit": False}),
                ("yes (rated with the V4 table: interpretation)", {"progressive_deficit": True}),
            ),
            f"{names[0].upper()}{names[1:]} {verb} recorded: is the deficit severe or rapidly progressing?",
        )
        out.unknown(
            group,
            {"progressive_deficit": f"{names} recorded; severity not in the record"},
            [c.ref for c, _ in found],
        )
    else:
        out.known("progressive_deficit", False, "No motor deficit finding recorded with back pain", [])
    return out.findings()


@rule(
    "intervention_candidate",
    produces=("intervention_candidate",),
    sources=("intervention_referral",),
    settings=(ASSUME_CANDIDATE_SETTING,),
)
def intervention_candidate(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """A referral to spine surgery/neurosurgery/pain medicine/IR in the episode, or a pre-procedural reason (§2.4);
    otherwise the setting: a stated assumption, or a question."""
    out = _Out()
    sets = value_sets_of(criteria, "intervention_referral").procedures
    ids = {vs.id for vs in sets}

    patterns = [criteria.vs_name_patterns[i] for i in ids if i in criteria.vs_name_patterns]

    def hit(concept: Any) -> bool:
        texts = [t.lower() for t in texts_of(concept)]
        return any(p.search(t) for p in patterns for t in texts)

    start = index.episode.start
    referrals = [
        i.ref
        for i in (*index.procedures, *(r.interval for r in index.referrals))
        if (i.start is None or i.start >= start) and hit(i.concept)
    ]
    reasons = [r.ref for r in index.reasons if hit(r.concept)]
    if referrals or reasons:
        what = "a referral" if referrals else "the order's reason (pre-procedural planning)"
        out.known(
            "intervention_candidate",
            True,
            f"Candidate for surgery or intervention: {what}",
            referrals + reasons,
            ("intervention_candidate", True),
        )
        return out.findings()
    if criteria.thresholds[ASSUME_CANDIDATE_SETTING]:
        text = (
            "assumes the patient is a candidate for surgery or intervention; if not, the study is usually "
            "not appropriate"
        )
        out.known(
            "intervention_candidate",
            True,
            f"Intervention candidacy: {text}",
            [],
            ("intervention_candidate", True),
        )
        return Findings(
            tuple(out.facts.values()),
            (),
            (),
            (Assumption("intervention_candidate", True, text, "assumeInterventionCandidate"),),
        )
    group = bool_group(
        "intervention_candidate",
        "Candidate for surgery or intervention (not in the record)",
        question="Is the patient a candidate for surgery or an intervention (e.g. epidural injection)?",
    )
    out.unknown(group, {"intervention_candidate": "candidacy not recorded"})
    return out.findings()


@rule("known_fracture", produces=("known_tl_fracture",), sources=("known_tl_fracture",))
def known_fracture(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """A confirmed (not provisional or differential) acute thoracic/lumbar fracture Condition."""
    out = _Out()
    confirmed = [c for c, _ in _conditions(index, criteria, "known_tl_fracture") if not c.suspected]
    if confirmed:
        out.known(
            "known_tl_fracture", True, "Known acute thoracic/lumbar fracture", [c.ref for c in confirmed]
        )
    elif "Condition" in index.unavailable:
        out.unavailable(criteria, ["known_tl_fracture"], "Condition")
    else:
        out.known("known_tl_fracture", False, "No confirmed acute thoracic/lumbar fracture recorded")
    return out.findings()


@rule("back_pain", produces=("back_pain",), sources=(EPISODE_SOURCE,))
def back_pain(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Back pain: a current back-pain Condition or the order's reason (the episode's conditions)."""
    out = _Out()
    _condition_present(out, index, criteria, EPISODE_SOURCE)
    return out.findings()


DURATION_QUESTION = "When did the current episode of back pain start?"
DURATION_FACTS = ("duration_acute", "duration_subacute_or_chronic", "duration_chronic", "pain_over_4_weeks")
DURATION_SETTINGS = ("subacuteFromDays", "chronicFromDays", "childPainRedFlagDays")


def _duration_cuts(criteria: Criteria) -> list[tuple[float, str]]:
    t = criteria.thresholds
    return [(t["subacuteFromDays"], "lt"), (t["chronicFromDays"], "lt"), (t["childPainRedFlagDays"], "gt")]


def _duration_assignment(criteria: Criteria) -> Callable[[float], dict[str, bool]]:
    """The duration facts as a function of the days since onset."""
    t = criteria.thresholds
    sub, chronic, child = t["subacuteFromDays"], t["chronicFromDays"], t["childPainRedFlagDays"]

    def assignment(days: float) -> dict[str, bool]:
        return {
            "duration_acute": days < sub,
            "duration_subacute_or_chronic": days >= sub,
            "duration_chronic": days >= chronic,
            "pain_over_4_weeks": days > child,
        }

    return assignment


def _duration_unknown_because(index: RecordIndex) -> str:
    """Why the duration is unknown (the episode has no dated condition)."""
    return (
        "Condition resources could not be obtained"
        if "Condition" in index.unavailable
        else "no onset or recorded date on any back-pain Condition"
        if index.episode.conditions
        else "no back-pain Condition in the record (the order's reason carries no date)"
    )


@rule("duration", produces=DURATION_FACTS, sources=(EPISODE_SOURCE,), settings=DURATION_SETTINGS)
def duration(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Acute / subacute / chronic back pain from the earliest dated back-pain Condition."""
    out = _Out()
    t = criteria.thresholds
    sub, chronic = t["subacuteFromDays"], t["chronicFromDays"]
    episode = index.episode
    assignment = _duration_assignment(criteria)
    ref = episode.onset_ref
    if ref is None:
        why = _duration_unknown_because(index)
        group = UnknownGroup(
            "duration",
            f"Back-pain duration ({why})",
            numeric_options(_duration_cuts(criteria), assignment, "days"),
            question=DURATION_QUESTION,
        )
        out.unknown(
            group,
            {n: f"duration unknown: {why}" for n in DURATION_FACTS},
            [c.ref for c in episode.conditions],
        )
        return out.findings()
    start = episode.start
    days = (evaluation - start).days
    label = "acute" if days < sub else "chronic" if days >= chronic else "subacute"
    text = (
        f"Back pain for {days} days (onset {start.isoformat()}): {label} "
        f"(subacute from {sub:g} days, chronic from {chronic:g} days)"
    )
    for name, value in assignment(days).items():
        out.known(name, value, text, [ref], ("duration", label))
    return out.findings()


@rule(
    "management",
    produces=("prior_management", "managed_6_weeks"),
    sources=("conservative_therapy", EPISODE_SOURCE, EPISODE_SYMPTOM_SOURCE),
    settings=(
        "managementWeeksRequired",
        CARE_BRIDGE_SETTING,
        *DURATION_SETTINGS,
        EPISODE_DEFAULT_SETTING,
    ),
    refines=("duration",),
)
def management(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Conservative care received in the episode (§2.3): the longest continuous run, at both bounds of unknown lengths."""
    out = _Out()
    episode = index.episode
    t = criteria.thresholds
    required, bridge = t["managementWeeksRequired"], t[CARE_BRIDGE_SETTING]
    need = required * 7
    sessions = _procedures(index, criteria, "conservative_therapy")
    therapies = _medications(index, criteria, "conservative_therapy") + sessions
    procedures = {i.ref for i, _ in sessions}
    undated = [i for i, _ in therapies if i.start is None]
    items = [
        CareItem(
            i.ref,
            _therapy_label(i, m, criteria),
            i.start,
            i.end or i.start,
            i.length_known,
            session=i.ref in procedures and i.end == i.start,
        )
        for i, m in therapies
        if i.start is not None
    ]
    bounds = care_bounds(items, episode_start=episode.start, evaluation=evaluation, bridge_days=bridge)
    in_episode = [c for c in items if (c.end if c.length_known else evaluation) >= episode.start]
    by_name = [i.ref for i, m in therapies if m.by == "name"]
    name_note = f" (matched by name: {', '.join(by_name)})" if by_name else ""
    refs = [c.ref for c in in_episode] + [i.ref for i in undated]
    missing_types = sorted(
        x for x in ("MedicationStatement", "MedicationRequest", "Procedure") if x in index.unavailable
    )
    if in_episode or undated:
        out.known(
            "prior_management",
            True,
            f"Conservative therapy documented{name_note}",
            refs,
            ("prior_management", True),
        )
    elif missing_types:
        out.unavailable(criteria, ["prior_management"], "/".join(missing_types))
    else:
        out.known(
            "prior_management",
            False,
            "No conservative therapy documented in the episode",
            [],
            ("prior_management", False),
        )
    rule_text = f"{required:g} weeks required (M3: {criteria.threshold_texts['managementWeeksRequired']})"
    lo, hi = bounds.lower_days, bounds.upper_days
    found = describe_run(bounds.upper) if bounds.upper else ""
    if lo == hi:
        weeks_text = f"{care_weeks(lo):g} weeks"
    else:
        weeks_text = f"between {care_weeks(lo):g} and {care_weeks(hi):g} weeks (a length is not recorded)"
    text = (
        f"Conservative care received: {found}; longest continuous run {weeks_text} "
        f"(gaps of up to {bridge:g} days bridged){name_note}; {rule_text}"
        if found
        else f"No conservative therapy in the episode{name_note}; {rule_text}"
    )
    unknown_lengths = [c for c in (bounds.upper.items if bounds.upper else ()) if not c.length_known]
    if lo >= need and not episode.known and not (undated or missing_types):
        # The onset is unknown, so the episode may be shorter than the run: the care clipped to the episode
        # reaches the required weeks only if the pain is at least this many days old. Branch with duration.
        lower_runs = care_runs(
            items, episode_start=episode.start, evaluation=evaluation, bridge_days=bridge, upper=False
        )
        reach = min((evaluation - r.end).days + need for r in lower_runs if r.days >= need)
        base = _duration_assignment(criteria)

        def joint(days: float) -> dict[str, bool]:
            return {**base(days), "managed_6_weeks": days >= reach}

        group = UnknownGroup(
            "duration",
            f"Back-pain duration ({_duration_unknown_because(index)})",
            numeric_options([*_duration_cuts(criteria), (reach, "lt")], joint, "days"),
            question=DURATION_QUESTION,
        )
        out.unknown(
            group,
            {"managed_6_weeks": f"{text}; counted only within the episode, whose start is unknown"},
            refs,
        )
    elif lo >= need:
        out.known("managed_6_weeks", True, text, refs, ("management_weeks", care_weeks(lo)))
    elif hi < need and not (undated or missing_types):
        out.known("managed_6_weeks", False, text, refs, ("management_weeks", care_weeks(hi)))
    else:
        if undated:
            why = f"therapy without any date ({', '.join(i.ref for i in undated)})"
            names = [_therapy_label(i, m, criteria) for i, m in therapies if i.start is None]
        elif missing_types:
            why = f"{'/'.join(missing_types)} could not be obtained"
            names = []
        else:
            why = (
                f"{', '.join(f'{c.label} ({c.ref})' for c in unknown_lengths)}: no recorded length, so the "
                f"longest run is {weeks_text.split(' (')[0]}"
            )
            names = [c.label for c in unknown_lengths]
        therapy = (
            " and ".join(dict.fromkeys(names)) or "conservative therapy (medication or physical therapy)"
        )
        verb = "attend" if names and all(c.session for c in items if c.label in names) else "take"
        group = UnknownGroup(
            "management_weeks",
            f"Weeks of conservative therapy: {why}",
            (
                (f"less than {required:g} weeks", {"managed_6_weeks": False}),
                (f"{required:g} weeks or more", {"managed_6_weeks": True}),
            ),
            question=f"How long did the patient {verb} {therapy}? ({required:g} weeks or more changes the answer)",
        )
        out.unknown(group, {"managed_6_weeks": f"management weeks unknown: {why}"}, refs)
    return out.findings()


_STRENGTH = re.compile(r"\d")  # a medication's text up to its strength is its name


def _therapy_label(interval: Interval, match: Match, criteria: Criteria) -> str:
    """A therapy in words: the medication as recorded (up to its strength), or the value set's short title."""
    if interval.ref.startswith("Procedure/"):
        title = criteria.value_sets[match.value_set].title
        return title.split(" /")[0].split(" (")[0].lower()
    texts = texts_of(interval.concept)
    if not texts:
        return criteria.value_sets[match.value_set].title.lower()
    head = texts[0].strip()
    return (_STRENGTH.split(head, maxsplit=1)[0].strip() or head).lower()


@rule("immunosuppression", produces=("immunosuppression",), sources=("immunosuppression",))
def immunosuppression(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """An immunosuppressing Condition, the order's reason, or an immunosuppressant taken on the evaluation date."""
    out = _Out()
    conds = _conditions(index, criteria, "immunosuppression")
    reasons = _reasons(index, criteria, "immunosuppression")
    active = [
        i
        for i, _ in _medications(index, criteria, "immunosuppression")
        if (i.end is not None and i.end >= evaluation) or (i.start is None and i.ongoing)
    ]
    label = criteria.fact_texts["immunosuppression"]
    if conds or reasons or active:
        refs = [c.ref for c, _ in conds] + reasons + [i.ref for i in active]
        out.known("immunosuppression", True, f"{label}: present", refs, ("immunosuppression", True))
    elif {"Condition", "MedicationStatement", "MedicationRequest"} & index.unavailable:
        out.unavailable(criteria, ["immunosuppression"], "Condition/medication")
    else:
        out.known("immunosuppression", False, f"{label}: none recorded", [], ("immunosuppression", False))
    return out.findings()


@rule(
    "steroids",
    produces=("chronic_steroid_use",),
    sources=("chronic_steroid_use",),
    settings=("steroidDaysRequired", "steroidLookbackDays"),
)
def steroids(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """A long-term steroid status code, or enough days of systemic corticosteroids in the look-back window."""
    out = _Out()
    status = _conditions(index, criteria, "chronic_steroid_use")
    needed, lookback = criteria.thresholds["steroidDaysRequired"], criteria.thresholds["steroidLookbackDays"]
    window = evaluation - timedelta(days=lookback)
    meds = _medications(index, criteria, "chronic_steroid_use")
    days: set[date] = set()
    undated = []
    for med, _ in meds:
        if med.start is None:
            undated.append(med.ref)
            continue
        lo, hi = max(med.start, window), min(med.end or med.start, evaluation)
        days.update(lo + timedelta(days=k) for k in range((hi - lo).days + 1) if lo <= hi)
    refs = [c.ref for c, _ in status] + [m.ref for m, _ in meds]
    text = f"{len(days)} days of systemic corticosteroids in the last {lookback:g} days ({needed:g} required)"
    if status:
        codes = ", ".join(dict.fromkeys(display_code(*m.code.split("|", 1)) for _, m in status))
        out.known(
            "chronic_steroid_use",
            True,
            f"Long-term systemic steroid use recorded ({codes})",
            refs,
            ("chronic_steroid_use", True),
        )
    elif len(days) >= needed:
        out.known("chronic_steroid_use", True, text, refs, ("chronic_steroid_use", True))
    elif undated:
        group = bool_group(
            "chronic_steroid_use",
            f"Steroid exposure (courses without dates: {', '.join(undated)})",
            question=f"Has the patient taken systemic steroids for {needed:g} days or more in the last "
            f"{lookback:g} days?",
        )
        out.unknown(
            group,
            {"chronic_steroid_use": f"steroid exposure unknown: {', '.join(undated)} undated"},
            refs,
        )
    elif {"Condition", "MedicationStatement", "MedicationRequest"} & index.unavailable:
        out.unavailable(criteria, ["chronic_steroid_use"], "Condition/medication")
    else:
        out.known("chronic_steroid_use", False, text, refs, ("chronic_steroid_use", False))
    return out.findings()


def _site_region(sites: Sequence[Any], criteria: Criteria) -> str | None:
    """The region a bodySite names: lumbar, spine (another or no named region), other (not spinal), None."""
    if not sites:
        return None
    tags: set[str] = set()
    for site in sites:
        tags |= name_tags(site, criteria).keys()
    if BODY_SITE_LUMBAR in tags:
        return "lumbar"
    return "spine" if BODY_SITE_SPINE in tags else "other"


def _lumbar_surgery_evidence(
    index: RecordIndex, criteria: Criteria
) -> tuple[list[tuple[str, date | None]], list[tuple[str, date | None]], list[str]]:
    """(definite, uncertain, excluded) prior lumbar surgery evidence as (ref, date) (§2.6).

    Definite: a lumbar procedure code, a post-surgical spine status code (M96.1 …), a region-agnostic spine
    surgery code or Z98.1 with a lumbar bodySite, or Z98.1 without a bodySite beside a spinal surgery.
    Uncertain (asked): a region-agnostic spine surgery code or Z98.1 with no bodySite (and no spinal surgery).
    Excluded: a bodySite that is not lumbar.
    """
    definite = [(c.ref, c.dated) for c, _ in _conditions(index, criteria, "prior_lumbar_surgery")]
    definite += [(p.ref, p.start) for p, _ in _procedures(index, criteria, "prior_lumbar_surgery")]
    lumbar_refs = {r for r, _ in definite}
    spinal = [p for p, _ in _procedures(index, criteria, "spine_surgery")]
    uncertain: list[tuple[str, date | None]] = []
    excluded: list[str] = []
    for proc in spinal:
        if proc.ref in lumbar_refs:
            continue
        region = _site_region(proc.body_site, criteria)
        if region == "lumbar":
            definite.append((proc.ref, proc.start))
        elif region is None and not any(
            match_any(proc.concept, [criteria.value_sets[v]]) for v in REGIONAL_SURGERY_SETS
        ):
            uncertain.append((proc.ref, proc.start))
        else:
            excluded.append(proc.ref)
    for cond, _ in _conditions(index, criteria, "arthrodesis_status"):
        region = _site_region(cond.body_site, criteria)
        if region == "lumbar" or (region is None and spinal):
            definite.append((cond.ref, cond.dated))
        elif region is None:
            uncertain.append((cond.ref, cond.dated))
        else:
            excluded.append(cond.ref)
    return definite, uncertain, excluded


#: value sets of spine surgery codes that name a region other than lumbar (the code decides, not bodySite)
REGIONAL_SURGERY_SETS = ("spine-surgery-thoracic-cpt", "spine-surgery-cervical-cpt")
BODY_SITE_LUMBAR, BODY_SITE_SPINE = "body-site-lumbar", "body-site-spine"


@rule(
    "surgery",
    produces=("prior_lumbar_surgery", "new_or_progressing_after_surgery"),
    sources=("prior_lumbar_surgery", "spine_surgery", "arthrodesis_status", EPISODE_SOURCE),
    reads="valuesets.json: body-site-lumbar, body-site-spine (bodySite words)",
)
def surgery(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Prior lumbar surgery (procedure by code or bodySite, status code, Z98.1 by bodySite), and back pain after it."""
    out = _Out()
    definite, uncertain, _excluded = _lumbar_surgery_evidence(index, criteria)
    refs = [r for r, _ in definite]
    back = index.episode.conditions
    if not refs and uncertain:
        which = ", ".join(r for r, _ in uncertain)
        group = UnknownGroup(
            "prior_lumbar_surgery",
            f"Prior lumbar spine surgery: {which} does not say which region (arthrodesis status may be any "
            "joint)"
            if all(r.startswith("Condition/") for r, _ in uncertain)
            else f"Prior lumbar spine surgery: {which} does not say which region of the spine",
            (("no", {"prior_lumbar_surgery": False}), ("yes", {"prior_lumbar_surgery": True})),
            "Was the arthrodesis of the lumbar spine?"
            if all(r.startswith("Condition/") for r, _ in uncertain)
            else "Was the spine surgery of the lumbar spine?",
        )
        out.unknown(
            group, {"prior_lumbar_surgery": f"region of {which} not recorded"}, [r for r, _ in uncertain]
        )
        dates = [d for _, d in uncertain if d is not None]
        _after_surgery(out, back, dates, [r for r, _ in uncertain])
        return out.findings()
    if not refs:
        if {"Condition", "Procedure"} & index.unavailable:
            out.unavailable(
                criteria, ["prior_lumbar_surgery", "new_or_progressing_after_surgery"], "Condition/Procedure"
            )
            return out.findings()
        out.known(
            "prior_lumbar_surgery",
            False,
            "No prior lumbar spine surgery recorded",
            [],
            ("prior_lumbar_surgery", False),
        )
        out.known("new_or_progressing_after_surgery", False, "No prior lumbar spine surgery recorded", [])
        return out.findings()
    out.known(
        "prior_lumbar_surgery", True, "Prior lumbar spine surgery", refs, ("prior_lumbar_surgery", True)
    )
    _after_surgery(out, back, [d for _, d in definite if d is not None], refs)
    return out.findings()


def _after_surgery(out: _Out, back: Sequence[ConditionInfo], dates: list[date], refs: list[str]) -> None:
    """``new_or_progressing_after_surgery``: a back-pain Condition dated after the (earliest) surgery."""
    back_dated = [(c.dated, c.ref) for c in back if c.dated is not None]
    if not back:
        out.known(
            "new_or_progressing_after_surgery",
            False,
            "No current back-pain Condition after the surgery",
            refs,
        )
    elif not dates or not back_dated:
        why = "the surgery has no date" if not dates else "the back-pain Condition has no date"
        group = bool_group(
            "new_or_progressing_after_surgery",
            f"New symptoms after surgery ({why})",
            question="Are the symptoms new or progressing since the spine surgery?",
        )
        out.unknown(group, {"new_or_progressing_after_surgery": f"unknown: {why}"}, refs)
    else:
        operated = min(dates)
        after = [(d, r) for d, r in back_dated if d > operated]
        if after:
            out.known(
                "new_or_progressing_after_surgery",
                True,
                f"Back pain recorded {after[0][0].isoformat()} after surgery on {operated.isoformat()}",
                refs + [r for _, r in after],
                ("new_or_progressing_after_surgery", True),
            )
        else:
            out.known(
                "new_or_progressing_after_surgery",
                False,
                f"No back pain recorded after the surgery on {operated.isoformat()}",
                refs,
                ("new_or_progressing_after_surgery", False),
            )


@rule(
    "low_velocity_trauma",
    produces=("low_velocity_trauma",),
    sources=("low_velocity_trauma",),
    settings=("lowVelocityTraumaDays",),
)
def low_velocity_trauma(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """A sprain, strain, contusion or fall dated within the window before the evaluation date."""
    out = _Out()
    window = criteria.thresholds["lowVelocityTraumaDays"]
    matches = _conditions(index, criteria, "low_velocity_trauma")
    recent = [c for c, _ in matches if c.dated and (evaluation - c.dated).days <= window]
    undated = [c for c, _ in matches if c.dated is None]
    if recent:
        out.known(
            "low_velocity_trauma",
            True,
            f"Low-velocity trauma within {window:g} days",
            [c.ref for c in recent],
            ("low_velocity_trauma", True),
        )
    elif undated:
        group = bool_group(
            "low_velocity_trauma",
            f"Date of the injury ({', '.join(c.ref for c in undated)} has no date)",
            question=f"Did the injury or fall happen within the last {window:g} days?",
        )
        out.unknown(group, {"low_velocity_trauma": "injury without a date"}, [c.ref for c in undated])
    elif "Condition" in index.unavailable:
        out.unavailable(criteria, ["low_velocity_trauma"], "Condition")
    else:
        out.known(
            "low_velocity_trauma",
            False,
            f"No sprain, strain, contusion or fall within {window:g} days",
            [c.ref for c, _ in matches],
            ("low_velocity_trauma", False),
        )
    return out.findings()


@rule(
    "myelopathy_onset",
    produces=("myelopathy_acute",),
    sources=("myelopathy",),
    settings=("myelopathyAcuteDays",),
)
def myelopathy_onset(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Acute myelopathy: the earliest dated myelopathy Condition is younger than the threshold."""
    out = _Out()
    acute_days = criteria.thresholds["myelopathyAcuteDays"]
    matches = _conditions(index, criteria, "myelopathy")
    reasons = _reasons(index, criteria, "myelopathy")
    if not (matches or reasons):
        out.known("myelopathy_acute", False, "No myelopathy", [])
        return out.findings()
    evidence = [c.ref for c, _ in matches] + reasons
    dated = [c.dated for c, _ in matches if c.dated is not None]
    if not dated:
        group = bool_group(
            "myelopathy_acute",
            "Myelopathy onset (no onset or recorded date)",
            group="myelopathy_onset",
            labels=(f"acute (under {acute_days:g} days)", "chronic or progressive"),
        )
        out.unknown(group, {"myelopathy_acute": "myelopathy onset unknown"}, evidence)
        return out.findings()
    days = (evaluation - min(dated)).days
    acute = days < acute_days
    out.known(
        "myelopathy_acute",
        acute,
        f"Myelopathy for {days} days: {'acute' if acute else 'chronic or progressive'} "
        f"(acute under {acute_days:g} days)",
        evidence,
        ("myelopathy_onset", "acute" if acute else "chronic"),
    )
    return out.findings()


#: The MR status facts, most cautious first (clinical-rules §5.1: one implant never cancels another).
MR_STATUS_FACTS = ("mr_unsafe_device", "mr_unknown_device", "mr_conditional_device")


def device_name(dev: dict[str, Any]) -> str:
    """A Device's name as the record gives it: deviceName, else its type's text or display, else its id."""
    for entry in dev.get("deviceName") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip():
            return str(entry["name"]).strip()
    texts = texts_of(dev.get("type"))
    return texts[0] if texts else ref_of(dev)


def _condition_name(code: Any) -> str:
    texts = texts_of(code)
    return texts[0] if texts else "device-presence condition"


def _device_status(dev: dict[str, Any], criteria: Criteria) -> str | None:
    """unsafe | conditional | safe | unknown from Device.safety (code, else ASTM F2503 text) or Device.type."""
    safety = dev.get("safety")
    concepts = safety if isinstance(safety, list) else []
    labels = {
        "unsafe": value_sets_of(criteria, "mr_unsafe_device").devices,
        "conditional": value_sets_of(criteria, "mr_conditional_device").devices,
        "safe": value_sets_of(criteria, "mr_safe_device").devices,
        "unknown": value_sets_of(criteria, "mr_unlabelled_device").devices,
    }
    for status, sets in labels.items():  # by code first: the most cautious label wins
        if any(match_any(s, sets) for s in concepts):
            return status
    for status, sets in labels.items():  # then the text, any case
        ids = {vs.id for vs in sets}
        if any(ids & set(name_tags(s, criteria)) for s in concepts):
            return status
    type_sets = _device_type_sets(criteria)
    kind = dev.get("type")
    names = {
        "text": " ".join(
            n["name"]
            for n in dev.get("deviceName") or []
            if isinstance(n, dict) and isinstance(n.get("name"), str)
        )
    }
    if match_any(kind, type_sets) or any(
        {vs.id for vs in type_sets} & set(name_tags(c, criteria)) for c in (kind, names)
    ):
        return "unknown"  # an active implantable device with no MR labelling
    return None  # not an implant we can judge (crutches, a meter): ignored


def _device_type_sets(criteria: Criteria) -> tuple[ValueSet, ...]:
    entry = criteria.fact_sources.get("mr_unknown_device", {})
    return tuple(criteria.value_sets[v] for v in entry.get("deviceTypeValueSets", []))


@rule(
    "devices",
    produces=MR_STATUS_FACTS,
    sources=(
        "mr_unsafe_device",
        "mr_conditional_device",
        "mr_unlabelled_device",
        "mr_safe_device",
        "mr_unknown_device",
    ),
)
def devices(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """MR status of each implant (Device.safety code or text, Device.type, device-presence conditions)."""
    out = _Out()
    found: dict[str, list[tuple[str, str]]] = {name: [] for name in MR_STATUS_FACTS}  # fact → (ref, name)
    fact_of = {
        "unsafe": "mr_unsafe_device",
        "unknown": "mr_unknown_device",
        "conditional": "mr_conditional_device",
    }
    for dev in index.devices:
        status = _device_status(dev, criteria)
        if status in fact_of:
            found[fact_of[status]].append((ref_of(dev), device_name(dev)))
        elif status is None:
            out.issues.append(
                f"{ref_of(dev)} has no MR safety labelling and is not a recognised active implant; "
                "not treated as an MR risk"
            )
    for cond, _ in _conditions(index, criteria, "mr_unsafe_device"):
        found["mr_unsafe_device"].append((cond.ref, _condition_name(cond.code)))
    for cond, _ in _conditions(index, criteria, "mr_unknown_device"):
        found["mr_unknown_device"].append((cond.ref, _condition_name(cond.code)))
    texts = {
        "mr_unsafe_device": "MR-unsafe implant",
        "mr_unknown_device": "Implant of unknown MR status",
        "mr_conditional_device": "MR-conditional implant",
    }
    for name in MR_STATUS_FACTS:
        items = found[name]
        if items:
            names = "; ".join(dict.fromkeys(n for _, n in items))
            out.known(name, True, f"{texts[name]}: {names}", [r for r, _ in items], (name, names))
        elif "Device" in index.unavailable:
            out.unavailable(criteria, [name], "Device")
        else:
            out.known(name, False, f"No {texts[name][0].lower()}{texts[name][1:]} recorded", [])
    return out.findings()


#: Observation statuses whose value is a result (a registered or cancelled one is not)
_OBSERVATION_RESULT = frozenset({"final", "amended", "corrected", "preliminary"})


@rule("pregnancy", produces=("pregnant",), sources=("pregnant",), settings=("pregnancyObservationDays",))
def pregnancy(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Pregnant: a counted pregnancy Condition, or a recent positive pregnancy-status Observation (§5.4)."""
    out = _Out()
    evidence = [cond.ref for cond, _ in _conditions(index, criteria, "pregnant")]
    entry = criteria.fact_sources.get("pregnant", {})
    codes = [criteria.value_sets[v] for v in entry.get("observationValueSets", [])]
    positive = [criteria.value_sets[v] for v in entry.get("observationPositiveValueSets", [])]
    window = timedelta(days=criteria.thresholds["pregnancyObservationDays"])
    for obs in index.observations:
        if obs.get("status") not in _OBSERVATION_RESULT or not match_any(obs.get("code"), codes):
            continue
        taken = (
            parse_date(obs.get("effectiveDateTime"))
            or parse_date(
                (obs.get("effectivePeriod") or {}).get("start")
                if isinstance(obs.get("effectivePeriod"), dict)
                else None
            )
            or parse_date(obs.get("issued"))
        )
        if taken is None or taken > evaluation or evaluation - taken > window:
            continue
        value = obs.get("valueCodeableConcept")
        if match_any(value, positive) or any(
            isinstance(i, dict) and any(c.get("code") == "POS" for c in codings_of(i))
            for i in obs.get("interpretation") or []
        ):
            evidence.append(ref_of(obs))
    if evidence:
        out.known("pregnant", True, "Pregnant", evidence, ("pregnant", True))
    elif "Condition" in index.unavailable:
        out.unavailable(criteria, ["pregnant"], "Condition")
    else:
        out.known("pregnant", False, "No pregnancy recorded", [])
    return out.findings()


def radiograph_codes(criteria: Criteria) -> list[tuple[str, str]]:
    """(system, code) of every procedures.json code whose procedures are all radiographs."""
    return [
        key
        for key, entry in criteria.codes.items()
        if all(criteria.procedures[p].modality == RADIOGRAPH_MODALITY for p in entry.procedures)
    ]


@rule(
    "prior_radiograph",
    produces=("prior_spine_radiograph", "prior_radiograph_negative"),
    reads=f"procedures.json: codes whose procedures are all radiographs (modality {RADIOGRAPH_MODALITY})",
    codes=radiograph_codes,
)
def prior_radiograph(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """A completed Procedure coded as a spine radiograph; its result is never in the record (unknown)."""
    out = _Out()
    found = []
    for proc in index.procedures:
        for coding in codings_of(proc.concept):
            entry = criteria.codes.get((str(coding.get("system")), str(coding.get("code"))))
            if entry and all(
                criteria.procedures[p].modality == RADIOGRAPH_MODALITY for p in entry.procedures
            ):
                found.append(proc.ref)
    if found:
        out.known(
            "prior_spine_radiograph",
            True,
            "Prior spine radiograph",
            found,
            ("prior_spine_radiograph", True),
        )
        group = bool_group(
            "prior_radiograph_negative",
            "Result of the prior spine radiograph (not in the record)",
            group="prior_radiograph_result",
            labels=("negative", "positive"),
        )
        out.unknown(group, {"prior_radiograph_negative": "radiograph result not in the record"}, found)
    elif "Procedure" in index.unavailable:
        out.unavailable(criteria, ["prior_spine_radiograph", "prior_radiograph_negative"], "Procedure")
    else:
        out.known(
            "prior_spine_radiograph",
            False,
            "No prior spine radiograph: initial imaging",
            [],
            ("prior_spine_radiograph", False),
        )
        out.known("prior_radiograph_negative", False, "No prior spine radiograph", [])
    return out.findings()


@rule("uncodable", produces=(), uncodable=True)
def uncodable(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Facts no code list can show (settings.json ``uncodableFacts``): always unknown."""
    out = _Out()
    for name, text in criteria.uncodable_facts.items():
        out.unknown(bool_group(name, text), {name: text})
    return out.findings()


# --- the thoracic spine (clinical-rules §2.1, §2.6, §4.2) -------------------------------------------------------

#: (region label, its value set's settings.json key order): the regions back-pain codes can name (§2.1).
REGION_SOURCE = "indication_region"
REGION_FACTS = ("indication_thoracic", "indication_lumbar", "indication_thoracolumbar")
#: Symptom codes (dorsalgia, radiculopathy, sciatica) name the current complaint's region before structural ones.
SYMPTOM_PREFIX = "M54"


def _sets(criteria: Criteria, source: str, key: str) -> list[ValueSet]:
    return [criteria.value_sets[v] for v in criteria.fact_sources.get(source, {}).get(key, [])]


def _regions_of(tags: list[tuple[str, Mapping[str, Match]]], criteria: Criteria) -> dict[str, list[str]]:
    """Region label → evidence refs, from tagged codes (symptom codes first when any names a region)."""
    found: dict[str, list[str]] = {}
    symptom: dict[str, list[str]] = {}
    for ref, tagmap in tags:
        for vs in _sets(criteria, REGION_SOURCE, "conditionValueSets"):
            match = tagmap.get(vs.id)
            if match is None:
                continue
            label = vs.id.removeprefix("indication-region-")
            found.setdefault(label, []).append(ref)
            if normalise_code(ICD10CM, match.code.split("|")[-1]).startswith(SYMPTOM_PREFIX):
                symptom.setdefault(label, []).append(ref)
    return symptom or found


def _region_label(regions: dict[str, list[str]]) -> str:
    names = set(regions)
    if not names:
        return "unspecified"
    if names == {"thoracic"}:
        return "thoracic"
    if names == {"lumbar"}:
        return "lumbar"
    return "thoracolumbar"


@rule("indication_region", produces=REGION_FACTS, sources=(REGION_SOURCE,))
def indication_region(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """The region the back-pain codes name; the order's reason wins over the problem list (§2.1)."""
    out = _Out()
    from_reasons = _regions_of([(r.ref, r.tags) for r in index.reasons], criteria)
    counted = [(c.condition.ref, c.tags) for c in index.conditions if c.condition.counted]
    regions = from_reasons or _regions_of(counted, criteria)
    label = _region_label(regions)
    where = "the order's reason" if from_reasons else "the problem list"
    text = (
        f"Indication region: {label} (from {where})"
        if regions
        else "Indication region: unspecified (no back-pain code names a region)"
    )
    evidence = [ref for refs in regions.values() for ref in refs]
    for name in REGION_FACTS:
        out.known(name, name == f"indication_{label}", text, evidence, ("indication_region", label))
    return out.findings()


@rule("thoracic_radiculopathy", produces=("thoracic_radiculopathy",), sources=("thoracic_radiculopathy",))
def thoracic_radiculopathy(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """Radiculopathy coded in the thoracic or thoracolumbar region (TBP V3)."""
    out = _Out()
    _condition_present(out, index, criteria, "thoracic_radiculopathy")
    return out.findings()


def _matching(concept: Any, value_sets: list[ValueSet]) -> Match | None:
    """``match_any`` for a concept read straight from a raw resource: a malformed one matches nothing."""
    try:
        return match_any(concept, value_sets)
    except ValueError:
        return None


def _is_thoracic_radiograph(concept: Any, criteria: Criteria) -> bool:
    """``_thoracic_radiograph`` for a raw resource's code: a malformed code is not a radiograph."""
    try:
        return _thoracic_radiograph(concept, criteria)
    except ValueError:
        return False


def _concepts(value: Any) -> list[Any]:
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


@rule(
    "prior_thoracic_surgery",
    produces=("prior_thoracic_surgery",),
    sources=("prior_thoracic_surgery", "prior_thoracic_surgery_by_site"),
)
def prior_thoracic_surgery(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """A completed thoracic spine operation: by a code naming the region, or a spine code with a thoracic bodySite."""
    out = _Out()
    refs = [p.ref for p, _ in _procedures(index, criteria, "prior_thoracic_surgery")]
    by_site = _sets(criteria, "prior_thoracic_surgery_by_site", "procedureValueSets")
    sites = _sets(criteria, "prior_thoracic_surgery_by_site", "bodySiteValueSets")
    for proc in index.raw.get("Procedure", ()):
        if proc.get("status") != "completed" or not _matching(proc.get("code"), by_site):
            continue
        if any(_matching(site, sites) for site in _concepts(proc.get("bodySite"))):
            refs.append(ref_of(proc))
    if refs:
        out.known(
            "prior_thoracic_surgery",
            True,
            "Prior thoracic spine surgery",
            refs,
            ("prior_thoracic_surgery", True),
        )
    elif "Procedure" in index.unavailable:
        out.unavailable(criteria, ["prior_thoracic_surgery"], "Procedure")
    else:
        out.known(
            "prior_thoracic_surgery",
            False,
            "No prior thoracic spine surgery recorded",
            [],
            ("prior_thoracic_surgery", False),
        )
    return out.findings()


#: Regions whose radiograph images the thoracic spine (procedures.json regions).
THORACIC_RADIOGRAPH_REGIONS = frozenset({"thoracic", "thoracic-and-lumbar"})
RADIOGRAPH_RESULT_GROUP = "prior_thoracic_radiograph_result"


def _thoracic_radiograph(concept: Any, criteria: Criteria) -> bool:
    for coding in codings_of(concept) if isinstance(concept, dict) else []:
        entry = criteria.codes.get((str(coding.get("system")), str(coding.get("code"))))
        if entry and all(
            criteria.procedures[p].modality == RADIOGRAPH_MODALITY
            and criteria.procedures[p].region in THORACIC_RADIOGRAPH_REGIONS
            for p in entry.procedures
        ):
            return True
    return False


def _targets(resource: dict[str, Any], *keys: str) -> set[str]:
    """The "Type/id" references a resource makes under the given keys."""
    out = set()
    for key in keys:
        for ref in _concepts(resource.get(key)):
            target = ref.get("reference")
            if isinstance(target, str):
                out.add("/".join(target.split("/")[-2:]))
    return out


def _radiograph_results(
    index: RecordIndex, criteria: Criteria
) -> tuple[list[str], list[tuple[str, Any]], list[str]]:
    """Prior thoracic radiographs, their coded results (ref, concept) and results carried only as text."""
    procs = [
        p
        for p in index.raw.get("Procedure", ())
        if p.get("status") == "completed" and _is_thoracic_radiograph(p.get("code"), criteria)
    ]
    radiographs = [ref_of(p) for p in procs]
    linked = set().union(*(_targets(p, "report") for p in procs)) if procs else set()
    coded: list[tuple[str, Any]] = []
    text_only: list[str] = []
    for dr in index.raw.get("DiagnosticReport", ()):
        ref = ref_of(dr)
        if dr.get("status") in ("entered-in-error", "cancelled"):
            continue
        if not (
            ref in linked
            or _targets(dr, "basedOn", "partOf") & set(radiographs)
            or _is_thoracic_radiograph(dr.get("code"), criteria)
        ):
            continue
        if ref not in radiographs and not procs:
            radiographs.append(ref)
        codes = _concepts(dr.get("conclusionCode"))
        coded += [(ref, c) for c in codes]
        linked |= _targets(dr, "result")
        if not codes and isinstance(dr.get("conclusion"), str):
            text_only.append(ref)
    for obs in index.raw.get("Observation", ()):
        ref = ref_of(obs)
        if obs.get("status") in ("entered-in-error", "cancelled"):
            continue
        if not (
            ref in linked
            or _targets(obs, "partOf", "basedOn", "derivedFrom") & set(radiographs)
            or _is_thoracic_radiograph(obs.get("code"), criteria)
        ):
            continue
        if isinstance(obs.get("valueCodeableConcept"), dict):
            coded.append((ref, obs["valueCodeableConcept"]))
            if ref not in radiographs and not procs:
                radiographs.append(ref)
    return radiographs, coded, text_only


@rule(
    "prior_thoracic_radiograph",
    produces=("prior_thoracic_radiograph_abnormal",),
    sources=("prior_thoracic_radiograph_abnormal",),
    reads="procedures.json: radiograph codes of the thoracic region (the prior study and its report's code)",
    codes=radiograph_codes,
)
def prior_thoracic_radiograph(index: RecordIndex, criteria: Criteria, evaluation: date) -> Findings:
    """A prior thoracic radiograph whose coded result shows bone destruction, fracture or deformity (TBP V6)."""
    out = _Out()
    name = "prior_thoracic_radiograph_abnormal"
    radiographs, coded, text_only = _radiograph_results(index, criteria)
    abnormal_sets = _sets(criteria, name, "resultValueSets")
    abnormal = [(ref, c) for ref, c in coded if _matching(c, abnormal_sets)]
    if abnormal:
        shown = "; ".join(
            next(iter(texts_of(c)), display_code(*next(iter(_code_pairs(c)), ("", "?")))) for _, c in abnormal
        )
        out.known(
            name,
            True,
            f"Prior thoracic radiograph shows bone destruction, fracture or deformity ({shown})",
            radiographs + [r for r, _ in abnormal],
            (name, True),
        )
    elif coded:
        out.known(
            name,
            False,
            "Prior thoracic radiograph: its coded result shows no bone destruction, fracture or deformity",
            radiographs + [r for r, _ in coded],
            (name, False),
        )
    elif radiographs:
        missing = {"DiagnosticReport", "Observation"} & index.unavailable
        why = (
            "its report is only free text"
            if text_only
            else "its report could not be obtained"
            if missing
            else "no result in the record"
        )
        group = UnknownGroup(
            RADIOGRAPH_RESULT_GROUP,
            f"Result of the prior thoracic radiograph ({why})",
            (
                ("normal, or no destruction, fracture or deformity", {name: False}),
                ("bone destruction, fracture or deformity", {name: True}),
            ),
            question=(
                "What did the prior thoracic spine radiograph show: bone destruction, fracture or deformity?"
            ),
        )
        out.unknown(group, {name: f"thoracic radiograph result unknown: {why}"}, radiographs + text_only)
    elif "Procedure" in index.unavailable:
        out.unavailable(criteria, [name], "Procedure")
    else:
        out.known(name, False, "No prior thoracic radiograph: initial imaging", [], (name, False))
    return out.findings()


def _code_pairs(concept: Any) -> list[tuple[str, str]]:
    return [
        (str(c.get("system")), str(c.get("code")))
        for c in codings_of(concept)
        if isinstance(c.get("code"), str)
    ]
