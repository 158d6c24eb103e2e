"""FHIR R4 dicts → clinical facts with evidence (clinical-rules.md §1–§2). Pure: standard library only.

Patient resources are read as plain dicts with small defensive accessors: a malformed entry is skipped and
reported in ``PatientFacts.issues``, never fatal. Each fact is true, false or unknown; unknown facts belong
to an :class:`UnknownGroup` whose options are the consistent joint values the engine may branch over
(e.g. an unknown onset makes ``duration_acute``, ``duration_chronic`` and ``pain_over_4_weeks`` unknown
*together*, with four consistent possibilities, not eight).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.clinical.terminology import Match, codings_of, concept_tags, first_tag, match_any, name_tags
from app.criteria.model import Criteria, ValueSet

COUNTED_CLINICAL = {"active", "recurrence", "relapse"}
NEVER_COUNTED_VERIFICATION = {"refuted", "entered-in-error"}
SUSPECTED_VERIFICATION = {"provisional", "differential"}
MED_STATEMENT_EXCLUDED = {"entered-in-error", "not-taken"}
MED_REQUEST_EXCLUDED = {"cancelled", "entered-in-error"}
MED_ONGOING = {"active", "intended", "on-hold"}
DEVICE_EXCLUDED = {"entered-in-error", "inactive"}


class Malformed(ValueError):
    """A patient resource we cannot read; it is skipped and reported."""


# --- result types ------------------------------------------------------------------------------------------------


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


@dataclass
class PatientFacts:
    evaluation_date: date
    age: int | None
    facts: dict[str, Fact] = field(default_factory=dict)
    groups: dict[str, UnknownGroup] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    def known(
        self, name: str, value: bool, text: str, evidence: Iterable[str] = (), reported: Any = None
    ) -> None:
        self.facts[name] = Fact(name, value, text, tuple(dict.fromkeys(evidence)), None, reported)

    def unknown(self, group: UnknownGroup, texts: dict[str, str], evidence: Iterable[str] = ()) -> None:
        self.groups[group.name] = group
        ev = tuple(dict.fromkeys(evidence))
        for name, text in texts.items():
            self.facts[name] = Fact(name, None, text, ev, group.name)


# --- defensive accessors -----------------------------------------------------------------------------------------


def parse_date(value: Any) -> date | None:
    """FHIR date / dateTime (partial dates allowed: YYYY, YYYY-MM) → date of its first day."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if len(value) == 4:
            return date(int(value), 1, 1)
        if len(value) == 7:
            return date(int(value[:4]), int(value[5:7]), 1)
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _code_of(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    for coding in codings_of(concept):
        if isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def ref_of(resource: dict[str, Any]) -> str:
    rid = resource.get("id")
    return f"{resource.get('resourceType', 'Resource')}/{rid if isinstance(rid, str) else '?'}"


def _age_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _quantity_days(q: Any) -> float | None:
    if not isinstance(q, dict) or not isinstance(q.get("value"), int | float):
        return None
    unit = str(q.get("code") or q.get("unit") or "d").lower()
    factor = {
        "d": 1,
        "day": 1,
        "days": 1,
        "wk": 7,
        "week": 7,
        "weeks": 7,
        "mo": 30,
        "month": 30,
        "a": 365,
    }.get(unit)
    return float(q["value"]) * factor if factor else None


# --- resource summaries ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionInfo:
    ref: str
    code: Any
    counted: bool  # counts as a current problem
    usable: bool  # not refuted / entered-in-error (history facts use any clinical status)
    suspected: bool
    onset: date | None
    recorded: date | None

    @property
    def dated(self) -> date | None:
        return self.onset or self.recorded


@dataclass(frozen=True)
class Interval:
    ref: str
    concept: Any
    start: date | None
    end: date | None
    ongoing: bool  # status says the medication is still taken
    status: str


def _status_code(resource: dict[str, Any], key: str) -> str | None:
    value = resource.get(key)
    if value is None:
        return None
    code = _code_of(value)
    if code is None and not isinstance(value, dict):
        raise Malformed(f"{key} is not a CodeableConcept")
    return code


def read_condition(res: dict[str, Any], birth: date | None) -> ConditionInfo:
    code = res.get("code")
    if code is not None and not isinstance(code, dict):
        raise Malformed("Condition.code is not a CodeableConcept")
    codings_of(code)  # shape check
    clinical = _status_code(res, "clinicalStatus")
    verification = _status_code(res, "verificationStatus")
    usable = verification not in NEVER_COUNTED_VERIFICATION
    abated = any(k.startswith("abatement") for k in res)
    counted = usable and (clinical in COUNTED_CLINICAL or (clinical is None and not abated))
    onset = parse_date(res.get("onsetDateTime"))
    if onset is None and isinstance(res.get("onsetPeriod"), dict):
        onset = parse_date(res["onsetPeriod"].get("start"))
    if onset is None and isinstance(res.get("onsetAge"), dict) and birth is not None:
        years = res["onsetAge"].get("value")
        if isinstance(years, int | float):
            onset = birth + timedelta(days=round(float(years) * 365.25))
    return ConditionInfo(
        ref=ref_of(res),
        code=code,
        counted=counted,
        usable=usable,
        suspected=verification in SUSPECTED_VERIFICATION,
        onset=onset,
        recorded=parse_date(res.get("recordedDate")),
    )


def _medication_concept(res: dict[str, Any], medications: dict[str, dict[str, Any]]) -> Any:
    if "medicationCodeableConcept" in res:
        concept = res["medicationCodeableConcept"]
        if not isinstance(concept, dict):
            raise Malformed("medicationCodeableConcept is not a CodeableConcept")
        return concept
    ref = res.get("medicationReference")
    if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
        target = ref["reference"]
        if target.startswith("#"):
            for contained in res.get("contained", []) or []:
                if isinstance(contained, dict) and contained.get("id") == target[1:]:
                    return contained.get("code")
            raise Malformed(f"medicationReference {target} is not among the contained resources")
        key = target.split("/_history")[0]
        key = "/".join(key.rstrip("/").split("/")[-2:])
        if key in medications:
            return medications[key].get("code")
        if isinstance(ref.get("display"), str):
            return {"text": ref["display"]}
        raise Malformed(f"medicationReference {target} was not supplied")
    raise Malformed("no medication[x]")


def read_medication(
    res: dict[str, Any], medications: dict[str, dict[str, Any]], evaluation: date
) -> Interval | None:
    """A MedicationStatement / MedicationRequest as a dated interval, or None when its status excludes it."""
    rtype = res.get("resourceType")
    status = res.get("status") if isinstance(res.get("status"), str) else ""
    excluded = MED_STATEMENT_EXCLUDED if rtype == "MedicationStatement" else MED_REQUEST_EXCLUDED
    if status in excluded:
        return None
    concept = _medication_concept(res, medications)
    start = end = None
    if rtype == "MedicationStatement":
        period = res.get("effectivePeriod")
        if isinstance(period, dict):
            start, end = parse_date(period.get("start")), parse_date(period.get("end"))
        elif res.get("effectiveDateTime"):
            start = end = parse_date(res.get("effectiveDateTime"))
    else:
        for dosage in res.get("dosageInstruction", []) or []:
            bounds = (((dosage or {}).get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
            if isinstance(bounds, dict):
                start, end = parse_date(bounds.get("start")), parse_date(bounds.get("end"))
                break
        if start is None:
            start = parse_date(res.get("authoredOn"))
        raw_dispense = res.get("dispenseRequest")
        dispense: dict[str, Any] = raw_dispense if isinstance(raw_dispense, dict) else {}
        if end is None and start is not None:
            validity = dispense.get("validityPeriod")
            supply = _quantity_days(dispense.get("expectedSupplyDuration"))
            if isinstance(validity, dict) and parse_date(validity.get("end")):
                end = parse_date(validity.get("end"))
            elif supply is not None:
                end = start + timedelta(days=supply)
    ongoing = status in MED_ONGOING
    if start is not None and end is None:
        end = evaluation if ongoing else start
    if end is not None and end > evaluation:
        end = evaluation
    return Interval(ref_of(res), concept, start, end, ongoing, str(status))


def read_procedure(res: dict[str, Any]) -> Interval | None:
    if res.get("status") != "completed":
        return None
    code = res.get("code")
    if code is not None and not isinstance(code, dict):
        raise Malformed("Procedure.code is not a CodeableConcept")
    codings_of(code)
    start = end = parse_date(res.get("performedDateTime"))
    period = res.get("performedPeriod")
    if isinstance(period, dict):
        start = parse_date(period.get("start"))
        end = parse_date(period.get("end")) or start
    return Interval(ref_of(res), code, start, end, False, "completed")


# --- fact extraction ---------------------------------------------------------------------------------------------


@dataclass
class _Record:
    conditions: list[ConditionInfo]
    medications: list[Interval]
    procedures: list[Interval]
    devices: list[dict[str, Any]]
    reasons: list[tuple[str, Any]]  # (evidence ref, CodeableConcept) of the order's reasonCode


def _safe(
    items: Iterable[dict[str, Any]], reader: Callable[[dict[str, Any]], Any], issues: list[str]
) -> list[Any]:
    out = []
    for res in items:
        if not isinstance(res, dict):
            issues.append("a resource entry is not a JSON object; skipped")
            continue
        try:
            value = reader(res)
        except (Malformed, ValueError, TypeError, AttributeError) as err:
            issues.append(f"{ref_of(res)} skipped: {err}")
            continue
        if value is not None:
            out.append(value)
    return out


class FactBuilder:
    """Computes every base fact of :data:`app.criteria.model.BASE_FACTS` for one order and record."""

    def __init__(self, criteria: Criteria, evaluation: date):
        self.c = criteria
        self.evaluation = evaluation
        self.t = criteria.thresholds
        self._tag_cache: dict[int, tuple[Any, dict[str, Match]]] = {}
        self._conds: list[tuple[ConditionInfo, dict[str, Match]]] = []
        self._meds: list[tuple[Interval, dict[str, Match], dict[str, Match]]] = []
        self._procs: list[tuple[Interval, dict[str, Match]]] = []
        self._duration_cuts: list[tuple[float, str]] = []
        self._duration_assign: Callable[[float], dict[str, bool]] = lambda days: {}

    def tags(self, concept: Any) -> dict[str, Match]:
        """Value sets this concept belongs to, computed once per concept (kept alive with the cache entry)."""
        cached = self._tag_cache.get(id(concept))
        if cached is None or cached[0] is not concept:
            cached = (concept, concept_tags(concept, self.c))
            self._tag_cache[id(concept)] = cached
        return cached[1]

    def vsets(self, fact: str, key: str) -> list[ValueSet]:
        return [self.c.value_sets[v] for v in self.c.fact_sources.get(fact, {}).get(key, [])]

    def prepare(self, rec: _Record) -> None:
        """Tag every resource once; resources that belong to no value set are never looked at again."""
        self._conds = [(c, t) for c in rec.conditions if (t := self.tags(c.code))]
        self._meds = []
        for med in rec.medications:
            code_tags = self.tags(med.concept)
            names = name_tags(med.concept, self.c)
            if code_tags or names:
                self._meds.append((med, code_tags, names))
        self._procs = [(p, t) for p in rec.procedures if (t := self.tags(p.concept))]

    def cond_matches(
        self, rec: _Record, fact: str, *, history: bool = False
    ) -> list[tuple[ConditionInfo, Match]]:
        current, hist = self.vsets(fact, "conditionValueSets"), self.vsets(fact, "historyValueSets")
        out = []
        for cond, tags in self._conds:
            found = first_tag(tags, current) if cond.counted else None
            if found is None and cond.usable and (hist or history):
                found = first_tag(tags, hist + (current if history else []))
            if found:
                out.append((cond, found))
        return out

    def reason_matches(self, rec: _Record, fact: str) -> list[str]:
        sets = self.vsets(fact, "conditionValueSets") + self.vsets(fact, "historyValueSets")
        return [ref for ref, concept in rec.reasons if first_tag(self.tags(concept), sets)]

    def med_matches(self, rec: _Record, fact: str) -> list[tuple[Interval, Match]]:
        """Medications in the fact's value sets: by code, else (last resort, flagged) by ingredient name."""
        sets = self.vsets(fact, "medicationValueSets")
        out = []
        for med, code_tags, names in self._meds:
            found = first_tag(code_tags, sets) or first_tag(names, sets)
            if found:
                out.append((med, found))
        return out

    def proc_matches(self, rec: _Record, fact: str) -> list[tuple[Interval, Match]]:
        sets = self.vsets(fact, "procedureValueSets")
        return [(p, m) for p, tags in self._procs if (m := first_tag(tags, sets))]

    def build(
        self,
        patient: dict[str, Any] | None,
        rec: _Record,
        issues: list[str],
        unavailable: set[str],
    ) -> PatientFacts:
        pf = PatientFacts(evaluation_date=self.evaluation, age=None, issues=issues)
        self.prepare(rec)
        self._age(pf, patient, "Patient" in unavailable)
        simple = {
            "cauda_equina_suspected": "Condition",
            "cancer": "Condition",
            "infection": "Condition",
            "osteoporosis": "Condition",
            "spondylolisthesis": "Condition",
            "inflammatory_spine_disease": "Condition",
            "neuro_deficit": "Condition",
            "radicular_pain": "Condition",
            "myelopathy": "Condition",
            "thoracolumbar_trauma": "Condition",
        }
        for fact, rtype in simple.items():
            self._condition_fact(pf, rec, fact, rtype in unavailable)
        self._known_fracture(pf, rec, "Condition" in unavailable)
        back = self._condition_fact(pf, rec, "back_pain", "Condition" in unavailable)
        episode = self._duration(pf, rec, back, "Condition" in unavailable)
        self._management(pf, rec, episode, unavailable)
        self._immunosuppression(pf, rec, unavailable)
        self._steroids(pf, rec, unavailable)
        self._surgery(pf, rec, back, unavailable)
        self._low_velocity_trauma(pf, rec, "Condition" in unavailable)
        self._myelopathy_onset(pf, rec)
        self._devices(pf, rec, unavailable)
        self._prior_radiograph(pf, rec, "Procedure" in unavailable)
        for name, text in self.c.uncodable_facts.items():
            pf.unknown(_bool_group(name, text), {name: text})
        return pf

    # -- individual facts --

    def _unavailable(self, pf: PatientFacts, names: list[str], rtype: str) -> None:
        text = f"{rtype} resources could not be obtained"
        for name in names:
            pf.unknown(_bool_group(name, f"{self.c.fact_texts.get(name, name)}: {text}"), {name: text})

    def _age(self, pf: PatientFacts, patient: dict[str, Any] | None, unavailable: bool) -> None:
        birth = parse_date(patient.get("birthDate")) if isinstance(patient, dict) else None
        names = ("age_under_16", "age_under_18", "elderly")
        limits = (self.t["childTraumaAgeBelow"], self.t["pediatricAgeBelow"], self.t["elderlyAgeAbove"])
        if birth is None:
            why = "no Patient resource" if not isinstance(patient, dict) else "Patient.birthDate is missing"
            if unavailable:
                why = "the Patient resource could not be obtained"
            options: list[tuple[str, dict[str, bool]]] = []
            for label, age in (  # adult options first: the reported topic defaults to the common case
                (f"{limits[1]:g}–{limits[2]:g}", limits[2]),
                (f"over {limits[2]:g}", limits[2] + 1),
                (f"under {limits[0]:g}", limits[0] - 1),
                (f"{limits[0]:g}–{limits[1] - 1:g}", limits[1] - 1),
            ):
                options.append(
                    (
                        label,
                        {
                            "age_under_16": age < limits[0],
                            "age_under_18": age < limits[1],
                            "elderly": age > limits[2],
                        },
                    )
                )
            group = UnknownGroup("age", f"Patient age ({why})", tuple(options))
            pf.unknown(group, {n: f"age unknown: {why}" for n in names})
            return
        age = _age_years(birth, self.evaluation)
        pf.age = age
        ref = ref_of(patient) if isinstance(patient, dict) else "Patient/?"
        pf.known(
            "age_under_16", age < limits[0], f"Age {age} (born {birth.isoformat()})", [ref], ("age", age)
        )
        pf.known(
            "age_under_18", age < limits[1], f"Age {age} (born {birth.isoformat()})", [ref], ("age", age)
        )
        older = age > limits[2]
        pf.known(
            "elderly",
            older,
            f"Age {age}: {'older than' if older else 'not older than'} {limits[2]:g} "
            f"({self.c.threshold_texts['elderlyAgeAbove']})",
            [ref],
            ("elderly", older),
        )

    def _condition_fact(
        self, pf: PatientFacts, rec: _Record, fact: str, unavailable: bool
    ) -> list[ConditionInfo]:
        matches = self.cond_matches(rec, fact)
        reasons = self.reason_matches(rec, fact)
        label = self.c.fact_texts.get(fact, fact)
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
            pf.known(fact, True, f"{label}: present{how}, from {src}{weak}", refs, (fact, True))
        elif unavailable:
            self._unavailable(pf, [fact], "Condition")
        else:
            pf.known(fact, False, f"{label}: none recorded", [], (fact, False))
        return [c for c, _ in matches]

    def _known_fracture(self, pf: PatientFacts, rec: _Record, unavailable: bool) -> None:
        confirmed = [c for c, _ in self.cond_matches(rec, "known_tl_fracture") if not c.suspected]
        if confirmed:
            pf.known(
                "known_tl_fracture", True, "Known acute thoracic/lumbar fracture", [c.ref for c in confirmed]
            )
        elif unavailable:
            self._unavailable(pf, ["known_tl_fracture"], "Condition")
        else:
            pf.known("known_tl_fracture", False, "No confirmed acute thoracic/lumbar fracture recorded")

    def _duration(
        self, pf: PatientFacts, rec: _Record, back: list[ConditionInfo], unavailable: bool
    ) -> tuple[date, bool]:
        """Set the duration facts; return (episode start, whether it is known)."""
        sub, chronic, child = (
            self.t["subacuteFromDays"],
            self.t["chronicFromDays"],
            self.t["childPainRedFlagDays"],
        )
        dated = [(c.dated, c.ref) for c in back if c.dated is not None]
        names = ("duration_acute", "duration_subacute_or_chronic", "duration_chronic", "pain_over_4_weeks")

        def assignment(days: float) -> dict[str, bool]:
            return {
                "duration_acute": days < sub,
                "duration_subacute_or_chronic": days >= sub,
                "duration_chronic": days >= chronic,
                "pain_over_4_weeks": days > child,
            }

        self._duration_cuts = [(sub, "lt"), (chronic, "lt"), (child, "gt")]
        self._duration_assign = assignment
        if not dated:
            why = (
                "Condition resources could not be obtained"
                if unavailable
                else "no onset or recorded date on any back-pain Condition"
                if back
                else "no back-pain Condition in the record (the order's reason carries no date)"
            )
            group = UnknownGroup(
                "duration",
                f"Back-pain duration ({why})",
                _numeric_options(self._duration_cuts, assignment, "days"),
            )
            pf.unknown(group, {n: f"duration unknown: {why}" for n in names}, [c.ref for c in back])
            return self.evaluation - timedelta(days=self.t["episodeDefaultDays"]), False
        start, ref = min(dated, key=lambda x: x[0])
        assert start is not None
        days = (self.evaluation - start).days
        label = "acute" if days < sub else "chronic" if days >= chronic else "subacute"
        text = (
            f"Back pain for {days} days (onset {start.isoformat()}): {label} "
            f"(subacute from {sub:g} days, chronic from {chronic:g} days)"
        )
        for name, value in assignment(days).items():
            pf.known(name, value, text, [ref], ("duration", label))
        return start, True

    def _therapy_intervals(self, rec: _Record) -> list[tuple[Interval, Match]]:
        meds = self.med_matches(rec, "conservative_therapy")
        procs = self.proc_matches(rec, "conservative_therapy")
        return meds + procs

    def _management(
        self, pf: PatientFacts, rec: _Record, episode: tuple[date, bool], unavailable: set[str]
    ) -> None:
        episode_start, _ = episode
        required = self.t["managementWeeksRequired"]
        therapies = self._therapy_intervals(rec)
        undated = [(i, m) for i, m in therapies if i.start is None]
        # (start clipped to the episode, interval, match) for dated therapy overlapping the episode
        overlapping: list[tuple[date, Interval, Match]] = []
        for i, m in therapies:
            if i.start is None:
                continue
            end = i.end or i.start
            if end >= episode_start and i.start <= self.evaluation:
                overlapping.append((max(i.start, episode_start), i, m))
        by_name = [i.ref for _, i, m in overlapping if m.by == "name"] + [
            i.ref for i, m in undated if m.by == "name"
        ]
        name_note = f" (matched by name: {', '.join(by_name)})" if by_name else ""
        begin = min((b for b, _, _ in overlapping), default=None)
        weeks = round((self.evaluation - begin).days / 7, 1) if begin else 0.0
        since = begin.isoformat() if begin else "—"
        refs = [i.ref for _, i, _ in overlapping] + [i.ref for i, _ in undated]
        missing_types = sorted(
            t for t in ("MedicationStatement", "MedicationRequest", "Procedure") if t in unavailable
        )
        has_therapy = bool(overlapping or undated)
        if has_therapy:
            pf.known(
                "prior_management",
                True,
                f"Conservative therapy documented{name_note}",
                refs,
                ("prior_management", True),
            )
        elif missing_types:
            self._unavailable(pf, ["prior_management"], "/".join(missing_types))
        else:
            pf.known(
                "prior_management",
                False,
                "No conservative therapy documented in the episode",
                [],
                ("prior_management", False),
            )
        text = (
            f"{weeks:g} weeks of conservative therapy since "
            f"{since}{name_note}; "
            f"{required:g} weeks required (M3: {self.c.threshold_texts['managementWeeksRequired']})"
        )
        if (
            weeks >= required
            and not episode[1]
            and "duration" in pf.groups
            and not (undated or missing_types)
        ):
            # The onset is unknown, so the episode may be shorter than the therapy: management clipped to the
            # episode reaches the required weeks only if the pain is at least that old. Branch with duration.
            need = required * 7
            base = self._duration_assign

            def joint(days: float) -> dict[str, bool]:
                return {**base(days), "managed_6_weeks": days >= need}

            old_group = pf.groups["duration"]
            group = UnknownGroup(
                "duration",
                old_group.text,
                _numeric_options([*self._duration_cuts, (need, "lt")], joint, "days"),
            )
            pf.groups["duration"] = group
            pf.unknown(
                group,
                {"managed_6_weeks": f"{text}; counted only within the episode, whose start is unknown"},
                refs,
            )
        elif weeks >= required:
            pf.known("managed_6_weeks", True, text, refs, ("management_weeks", weeks))
        elif undated or missing_types:
            why = (
                f"therapy without any date ({', '.join(i.ref for i, _ in undated)})"
                if undated
                else f"{'/'.join(missing_types)} could not be obtained"
            )
            group = _bool_group(
                "managed_6_weeks",
                f"Weeks of conservative therapy ({why})",
                group="management_weeks",
                labels=(f"{required:g} weeks or more", f"less than {required:g} weeks"),
            )
            pf.unknown(group, {"managed_6_weeks": f"management weeks unknown: {why}"}, refs)
        else:
            pf.known(
                "managed_6_weeks",
                False,
                text
                if has_therapy
                else f"No conservative therapy in the episode; {required:g} weeks required (M3)",
                refs,
                ("management_weeks", weeks),
            )

    def _immunosuppression(self, pf: PatientFacts, rec: _Record, unavailable: set[str]) -> None:
        conds = self.cond_matches(rec, "immunosuppression")
        reasons = self.reason_matches(rec, "immunosuppression")
        active = [
            i
            for i, _ in self.med_matches(rec, "immunosuppression")
            if (i.end is not None and i.end >= self.evaluation) or (i.start is None and i.ongoing)
        ]
        label = self.c.fact_texts["immunosuppression"]
        if conds or reasons or active:
            refs = [c.ref for c, _ in conds] + reasons + [i.ref for i in active]
            pf.known("immunosuppression", True, f"{label}: present", refs, ("immunosuppression", True))
        elif {"Condition", "MedicationStatement", "MedicationRequest"} & unavailable:
            self._unavailable(pf, ["immunosuppression"], "Condition/medication")
        else:
            pf.known("immunosuppression", False, f"{label}: none recorded", [], ("immunosuppression", False))

    def _steroids(self, pf: PatientFacts, rec: _Record, unavailable: set[str]) -> None:
        status = self.cond_matches(rec, "chronic_steroid_use")
        needed, lookback = self.t["steroidDaysRequired"], self.t["steroidLookbackDays"]
        window = self.evaluation - timedelta(days=lookback)
        meds = self.med_matches(rec, "chronic_steroid_use")
        days: set[date] = set()
        undated = []
        for med, _ in meds:
            if med.start is None:
                undated.append(med.ref)
                continue
            lo, hi = max(med.start, window), min(med.end or med.start, self.evaluation)
            days.update(lo + timedelta(days=k) for k in range((hi - lo).days + 1) if lo <= hi)
        refs = [c.ref for c, _ in status] + [m.ref for m, _ in meds]
        text = f"{len(days)} days of systemic corticosteroids in the last {lookback:g} days ({needed:g} required)"
        if status:
            pf.known(
                "chronic_steroid_use",
                True,
                "Long-term systemic steroid use recorded (Z79.52)",
                refs,
                ("chronic_steroid_use", True),
            )
        elif len(days) >= needed:
            pf.known("chronic_steroid_use", True, text, refs, ("chronic_steroid_use", True))
        elif undated:
            group = _bool_group(
                "chronic_steroid_use", f"Steroid exposure (courses without dates: {', '.join(undated)})"
            )
            pf.unknown(
                group,
                {"chronic_steroid_use": f"steroid exposure unknown: {', '.join(undated)} undated"},
                refs,
            )
        elif {"Condition", "MedicationStatement", "MedicationRequest"} & unavailable:
            self._unavailable(pf, ["chronic_steroid_use"], "Condition/medication")
        else:
            pf.known("chronic_steroid_use", False, text, refs, ("chronic_steroid_use", False))

    def _surgery(
        self, pf: PatientFacts, rec: _Record, back: list[ConditionInfo], unavailable: set[str]
    ) -> None:
        status = self.cond_matches(rec, "prior_lumbar_surgery")
        procs = self.proc_matches(rec, "prior_lumbar_surgery")
        refs = [c.ref for c, _ in status] + [p.ref for p, _ in procs]
        if not refs:
            if {"Condition", "Procedure"} & unavailable:
                self._unavailable(
                    pf, ["prior_lumbar_surgery", "new_or_progressing_after_surgery"], "Condition/Procedure"
                )
                return
            pf.known(
                "prior_lumbar_surgery",
                False,
                "No prior lumbar spine surgery recorded",
                [],
                ("prior_lumbar_surgery", False),
            )
            pf.known("new_or_progressing_after_surgery", False, "No prior lumbar spine surgery recorded", [])
            return
        pf.known(
            "prior_lumbar_surgery", True, "Prior lumbar spine surgery", refs, ("prior_lumbar_surgery", True)
        )
        dates = [d for d in [c.dated for c, _ in status] + [p.start for p, _ in procs] if d is not None]
        back_dated = [(c.dated, c.ref) for c in back if c.dated is not None]
        if not back:
            pf.known(
                "new_or_progressing_after_surgery",
                False,
                "No current back-pain Condition after the surgery",
                refs,
            )
        elif not dates or not back_dated:
            why = "the surgery has no date" if not dates else "the back-pain Condition has no date"
            group = _bool_group("new_or_progressing_after_surgery", f"New symptoms after surgery ({why})")
            pf.unknown(group, {"new_or_progressing_after_surgery": f"unknown: {why}"}, refs)
        else:
            surgery = min(dates)
            after = [(d, r) for d, r in back_dated if d > surgery]
            if after:
                pf.known(
                    "new_or_progressing_after_surgery",
                    True,
                    f"Back pain recorded {after[0][0].isoformat()} after surgery on {surgery.isoformat()}",
                    refs + [r for _, r in after],
                    ("new_or_progressing_after_surgery", True),
                )
            else:
                pf.known(
                    "new_or_progressing_after_surgery",
                    False,
                    f"No back pain recorded after the surgery on {surgery.isoformat()}",
                    refs,
                    ("new_or_progressing_after_surgery", False),
                )

    def _low_velocity_trauma(self, pf: PatientFacts, rec: _Record, unavailable: bool) -> None:
        window = self.t["lowVelocityTraumaDays"]
        matches = self.cond_matches(rec, "low_velocity_trauma")
        recent = [c for c, _ in matches if c.dated and (self.evaluation - c.dated).days <= window]
        undated = [c for c, _ in matches if c.dated is None]
        if recent:
            pf.known(
                "low_velocity_trauma",
                True,
                f"Low-velocity trauma within {window:g} days",
                [c.ref for c in recent],
                ("low_velocity_trauma", True),
            )
        elif undated:
            group = _bool_group(
                "low_velocity_trauma", f"Date of the injury ({', '.join(c.ref for c in undated)} has no date)"
            )
            pf.unknown(group, {"low_velocity_trauma": "injury without a date"}, [c.ref for c in undated])
        elif unavailable:
            self._unavailable(pf, ["low_velocity_trauma"], "Condition")
        else:
            pf.known(
                "low_velocity_trauma",
                False,
                f"No sprain, strain, contusion or fall within {window:g} days",
                [c.ref for c, _ in matches],
                ("low_velocity_trauma", False),
            )

    def _myelopathy_onset(self, pf: PatientFacts, rec: _Record) -> None:
        fact = pf.facts["myelopathy"]
        acute_days = self.t["myelopathyAcuteDays"]
        if fact.value is not True:
            pf.known("myelopathy_acute", False, "No myelopathy", [])
            return
        dated = [c.dated for c, _ in self.cond_matches(rec, "myelopathy") if c.dated is not None]
        if not dated:
            group = _bool_group(
                "myelopathy_acute",
                "Myelopathy onset (no onset or recorded date)",
                group="myelopathy_onset",
                labels=(f"acute (under {acute_days:g} days)", "chronic or progressive"),
            )
            pf.unknown(group, {"myelopathy_acute": "myelopathy onset unknown"}, fact.evidence)
            return
        days = (self.evaluation - min(dated)).days
        acute = days < acute_days
        pf.known(
            "myelopathy_acute",
            acute,
            f"Myelopathy for {days} days: {'acute' if acute else 'chronic or progressive'} "
            f"(acute under {acute_days:g} days)",
            fact.evidence,
            ("myelopathy_onset", "acute" if acute else "chronic"),
        )

    def _devices(self, pf: PatientFacts, rec: _Record, unavailable: set[str]) -> None:
        unsafe_sets = self.vsets("mr_unsafe_device", "deviceSafetyValueSets")
        cond_sets = self.vsets("mr_conditional_device", "deviceSafetyValueSets")
        unlabelled_sets = [
            self.c.value_sets[v] for v in ("device-safety-unlabelled",) if v in self.c.value_sets
        ]
        unsafe, conditional, unlabelled = [], [], []
        for dev in rec.devices:
            safety = dev.get("safety") or []
            concepts = safety if isinstance(safety, list) else []
            if any(match_any(s, unsafe_sets) for s in concepts):
                unsafe.append(ref_of(dev))
            elif any(match_any(s, cond_sets) for s in concepts):
                conditional.append(ref_of(dev))
            elif any(match_any(s, unlabelled_sets) for s in concepts):
                unlabelled.append(ref_of(dev))
            elif not concepts:
                # FHIR Devices include non-implants (crutches, meters): no labelling is not a contraindication.
                pf.issues.append(
                    f"{ref_of(dev)} has no MR safety labelling; not treated as an MR contraindication"
                )
        unsafe_conditions = [c.ref for c, _ in self.cond_matches(rec, "mr_unsafe_device")]
        if unsafe or (unsafe_conditions and not conditional):
            pf.known(
                "mr_unsafe_device",
                True,
                "MR-unsafe implant",
                unsafe + unsafe_conditions,
                ("mr_unsafe_device", True),
            )
        elif unlabelled:
            group = _bool_group(
                "mr_unsafe_device", f"MR safety of implanted device(s) {', '.join(unlabelled)} (not labelled)"
            )
            pf.unknown(group, {"mr_unsafe_device": "device MR safety not labelled"}, unlabelled)
        elif "Device" in unavailable:
            self._unavailable(pf, ["mr_unsafe_device"], "Device")
        else:
            pf.known(
                "mr_unsafe_device", False, "No MR-unsafe implant recorded", [], ("mr_unsafe_device", False)
            )
        if conditional:
            pf.known(
                "mr_conditional_device",
                True,
                "MR-conditional implant",
                conditional,
                ("mr_conditional_device", True),
            )
        else:
            pf.known("mr_conditional_device", False, "No MR-conditional implant recorded", [])

    def _prior_radiograph(self, pf: PatientFacts, rec: _Record, unavailable: bool) -> None:
        found = []
        for proc in rec.procedures:
            for coding in codings_of(proc.concept):
                entry = self.c.codes.get((str(coding.get("system")), str(coding.get("code"))))
                if entry and all(self.c.procedures[p].modality == "XR" for p in entry.procedures):
                    found.append(proc.ref)
        if found:
            pf.known(
                "prior_spine_radiograph",
                True,
                "Prior spine radiograph",
                found,
                ("prior_spine_radiograph", True),
            )
            group = _bool_group(
                "prior_radiograph_negative",
                "Result of the prior spine radiograph (not in the record)",
                group="prior_radiograph_result",
                labels=("negative", "positive"),
            )
            pf.unknown(group, {"prior_radiograph_negative": "radiograph result not in the record"}, found)
        elif unavailable:
            self._unavailable(pf, ["prior_spine_radiograph", "prior_radiograph_negative"], "Procedure")
        else:
            pf.known(
                "prior_spine_radiograph",
                False,
                "No prior spine radiograph: initial imaging",
                [],
                ("prior_spine_radiograph", False),
            )
            pf.known("prior_radiograph_negative", False, "No prior spine radiograph", [])


def _bool_group(
    name: str, text: str, *, group: str | None = None, labels: tuple[str, str] = ("yes", "no")
) -> UnknownGroup:
    """An unknown boolean fact as its own group (named after the clinical-rules fact where that differs).

    The "false" reading comes first: when every reading agrees, the reported variant is the one the record
    supports without assuming the finding.
    """
    return UnknownGroup(group or name, text, ((labels[1], {name: False}), (labels[0], {name: True})))


def _numeric_options(
    cuts: list[tuple[float, str]], assign: Callable[[float], dict[str, bool]], unit: str
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
    issues: list[str] = []
    birth = parse_date(patient.get("birthDate")) if isinstance(patient, dict) else None
    medications = {
        f"Medication/{m['id']}": m
        for m in resources.get("Medication", [])
        if isinstance(m, dict) and m.get("id")
    }
    conditions = _safe(resources.get("Condition", []), lambda r: read_condition(r, birth), issues)
    meds = _safe(
        resources.get("MedicationStatement", []) + resources.get("MedicationRequest", []),
        lambda r: read_medication(r, medications, evaluation),
        issues,
    )
    procedures = _safe(resources.get("Procedure", []), read_procedure, issues)
    devices = _safe(
        resources.get("Device", []),
        lambda r: None if r.get("status") in DEVICE_EXCLUDED else r,
        issues,
    )
    order_ref = ref_of(order)
    reasons = [(order_ref, concept) for concept in order_reasons]
    rec = _Record(conditions, meds, procedures, devices, reasons)
    return FactBuilder(criteria, evaluation).build(patient, rec, issues, unavailable)


def evaluation_date(order: dict[str, Any], now: datetime | None) -> date:
    """``authoredOn``, else the request time (clinical-rules.md §1)."""
    authored = parse_date(order.get("authoredOn"))
    if authored is not None:
        return authored
    return (now or datetime.now()).date()
