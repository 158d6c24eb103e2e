"""FHIR R4 dicts → an immutable index of one patient record for one order (clinical-rules.md §1–§2).

Patient resources are read as plain dicts with small defensive readers: a malformed entry is skipped and
reported in :attr:`RecordIndex.issues`, never fatal. The index is built once per record and order: every
resource is read and tagged with the value sets its codes belong to, so the fact rules only query it.
Standard library and :mod:`app.criteria.model` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from app.clinical.terminology import Match, codings_of, concept_tags, first_tag, name_tags, texts_of
from app.criteria.model import Criteria, ValueSet

COUNTED_CLINICAL = frozenset({"active", "recurrence", "relapse"})
NEVER_COUNTED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
SUSPECTED_VERIFICATION = frozenset({"provisional", "differential"})
MED_STATEMENT_EXCLUDED = frozenset({"entered-in-error", "not-taken"})
MED_REQUEST_EXCLUDED = frozenset({"cancelled", "entered-in-error"})
MED_ONGOING = frozenset({"active", "intended", "on-hold"})
DEVICE_EXCLUDED = frozenset({"entered-in-error", "inactive"})
REFERRAL_EXCLUDED = frozenset({"entered-in-error", "revoked"})

#: UCUM / plain-word duration units → days (expectedSupplyDuration)
_DAYS_PER_UNIT = {
    "d": 1,
    "day": 1,
    "days": 1,
    "wk": 7,
    "week": 7,
    "weeks": 7,
    "mo": 30,
    "month": 30,
    "a": 365,
}

#: The settings.json fact whose conditions define the back-pain episode, and the episode's default length.
EPISODE_SOURCE = "back_pain"
EPISODE_DEFAULT_SETTING = "episodeDefaultDays"
#: The settings.json fact entry whose conditions are *symptoms*: they start the episode (clinical-rules §2.2);
#: structural diagnoses of :data:`EPISODE_SOURCE` start it only when no symptom Condition is counted.
EPISODE_SYMPTOM_SOURCE = "episode_symptoms"

T = TypeVar("T")

NOT_AN_OBJECT = "a resource entry is not a JSON object; skipped"


class Malformed(ValueError):
    """A patient resource we cannot read; it is skipped and reported."""


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


def code_of(concept: Any) -> str | None:
    """The first code of a CodeableConcept dict (None when it has none or is not a dict)."""
    if not isinstance(concept, dict):
        return None
    for coding in codings_of(concept):
        if isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def ref_of(resource: dict[str, Any]) -> str:
    """``Type/id`` of a resource, ``?`` for a missing id."""
    rid = resource.get("id")
    return f"{resource.get('resourceType', 'Resource')}/{rid if isinstance(rid, str) else '?'}"


def age_years(birth: date, on: date) -> int:
    """Completed years of age on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def quantity_days(q: Any) -> float | None:
    """A FHIR Duration/Quantity as days (None when its value or unit is not understood)."""
    if not isinstance(q, dict) or not isinstance(q.get("value"), int | float):
        return None
    factor = _DAYS_PER_UNIT.get(str(q.get("code") or q.get("unit") or "d").lower())
    return float(q["value"]) * factor if factor else None


def evaluation_date(order: dict[str, Any], now: datetime | None) -> date:
    """``authoredOn``, else the request time (clinical-rules.md §1)."""
    authored = parse_date(order.get("authoredOn"))
    if authored is not None:
        return authored
    return (now or datetime.now()).date()


# --- resource readers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionInfo:
    ref: str
    code: Any
    counted: bool  # counts as a current problem
    usable: bool  # not refuted / entered-in-error (history facts use any clinical status)
    suspected: bool
    onset: date | None
    recorded: date | None
    body_site: tuple[Any, ...] = ()  # Condition.bodySite concepts

    @property
    def dated(self) -> date | None:
        return self.onset or self.recorded


@dataclass(frozen=True)
class Interval:
    """A medication or procedure as a dated interval (``end`` clipped to the evaluation date)."""

    ref: str
    concept: Any
    start: date | None
    end: date | None
    ongoing: bool  # status says the medication is still taken
    status: str
    length_known: bool = (
        True  # False: a completed item with no length covers its day, its true length unknown
    )
    body_site: tuple[Any, ...] = ()  # Procedure.bodySite concepts


def _status_code(resource: dict[str, Any], key: str) -> str | None:
    value = resource.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed(f"{key} is not a CodeableConcept")
    codings = value.get("coding")
    if codings is None:
        return None
    if not isinstance(codings, list):
        raise ValueError("CodeableConcept.coding is not a list")
    for coding in codings:  # code_of, inline: the first coding with a string code
        if isinstance(coding, dict):
            code = coding.get("code")
            if isinstance(code, str):
                return str(code)
    return None


def read_condition(res: dict[str, Any], birth: date | None) -> ConditionInfo:
    """A Condition with its counting status and onset (``onsetAge`` needs the birth date)."""
    code = res.get("code")
    if code is not None:
        if not isinstance(code, dict):
            raise Malformed("Condition.code is not a CodeableConcept")
        codings = code.get("coding")
        if codings is not None and not isinstance(codings, list):  # shape check (codings_of)
            raise ValueError("CodeableConcept.coding is not a list")
    clinical = _status_code(res, "clinicalStatus")
    verification = _status_code(res, "verificationStatus")
    usable = verification not in NEVER_COUNTED_VERIFICATION
    abated = False
    for k in res:
        if k.startswith("abatement"):
            abated = True
            break
    counted = usable and (clinical in COUNTED_CLINICAL or (clinical is None and not abated))
    onset = parse_date(res.get("onsetDateTime"))
    if onset is None:
        period = res.get("onsetPeriod")
        if isinstance(period, dict):
            onset = parse_date(period.get("start"))
        if onset is None and birth is not None:
            age = res.get("onsetAge")
            if isinstance(age, dict):
                years = age.get("value")
                if isinstance(years, int | float):
                    onset = birth + timedelta(days=round(float(years) * 365.25))
    sites = res.get("bodySite", []) or []
    return ConditionInfo(
        ref_of(res),
        code,
        counted,
        usable,
        verification in SUSPECTED_VERIFICATION,
        onset,
        parse_date(res.get("recordedDate")),
        tuple(s for s in sites if isinstance(s, dict)) if sites else (),
    )


def dated_before(cond: ConditionInfo, evaluation: date) -> tuple[ConditionInfo, str | None]:
    """An onset after the evaluation date is a data issue (clinical-rules §1): the recorded date is used when
    it is not later, else the onset is unknown. Returns the condition to use and the issue, if any."""
    if cond.onset is None or cond.onset <= evaluation:
        if cond.onset is None and cond.recorded is not None and cond.recorded > evaluation:
            return _dated(cond, None, None), (
                f"{cond.ref}: recorded date {cond.recorded.isoformat()} is after the evaluation date "
                f"{evaluation.isoformat()}; onset unknown"
            )
        return cond, None
    head = f"{cond.ref}: onset {cond.onset.isoformat()} is after the evaluation date {evaluation.isoformat()}"
    if cond.recorded is not None and cond.recorded <= evaluation:
        return _dated(cond, cond.recorded, cond.recorded), (
            f"{head}; the recorded date {cond.recorded.isoformat()} is used"
        )
    return _dated(cond, None, None), f"{head}; onset unknown"


def _dated(cond: ConditionInfo, onset: date | None, recorded: date | None) -> ConditionInfo:
    """``cond`` with other dates (``dataclasses.replace`` without its introspection)."""
    return ConditionInfo(
        cond.ref, cond.code, cond.counted, cond.usable, cond.suspected, onset, recorded, cond.body_site
    )


def _medication_concept(res: dict[str, Any], medications: Mapping[str, dict[str, Any]]) -> Any:
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
    res: dict[str, Any], medications: Mapping[str, dict[str, Any]], evaluation: date
) -> Interval | None:
    """A MedicationStatement / MedicationRequest as a dated interval, or None when its status excludes it."""
    rtype = res.get("resourceType")
    status = res.get("status") if isinstance(res.get("status"), str) else ""
    excluded = MED_STATEMENT_EXCLUDED if rtype == "MedicationStatement" else MED_REQUEST_EXCLUDED
    if status in excluded:
        return None
    concept = _medication_concept(res, medications)
    codings_of(concept)  # shape check
    start: date | None = None
    end: date | None = None
    length_known = True
    if rtype == "MedicationStatement":
        period = res.get("effectivePeriod")
        if isinstance(period, dict):
            start, end = parse_date(period.get("start")), parse_date(period.get("end"))
        elif res.get("effectiveDateTime"):
            start = end = parse_date(res.get("effectiveDateTime"))
            length_known = False
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
            supply = quantity_days(dispense.get("expectedSupplyDuration"))
            repeats = dispense.get("numberOfRepeatsAllowed")
            fills = 1 + (repeats if isinstance(repeats, int) and repeats > 0 else 0)
            if isinstance(validity, dict) and parse_date(validity.get("end")):
                end = parse_date(validity.get("end"))
            elif supply is not None:
                end = start + timedelta(days=supply * fills)
    ongoing = status in MED_ONGOING
    if start is not None and end is None:
        end = evaluation if ongoing else start
        length_known = ongoing
    if end is not None and end > evaluation:
        end = evaluation
    return Interval(ref_of(res), concept, start, end, ongoing, str(status), length_known)


def read_procedure(res: dict[str, Any]) -> Interval | None:
    """A completed Procedure as a dated interval; None for any other status."""
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
    sites = tuple(x for x in res.get("bodySite", []) or [] if isinstance(x, dict))
    return Interval(ref_of(res), code, start, end, False, "completed", True, sites)


def read_device(res: dict[str, Any]) -> dict[str, Any] | None:
    """A Device that may be implanted (None when entered in error or inactive)."""
    if res.get("status") in DEVICE_EXCLUDED:
        return None
    safety = res.get("safety")
    for concept in safety if isinstance(safety, list) else []:
        if not isinstance(concept, dict):
            raise Malformed("Device.safety holds an entry that is not a CodeableConcept")
        codings_of(concept)  # shape check
    return res


def read_observation(res: dict[str, Any]) -> dict[str, Any] | None:
    """An Observation with a code (None when entered in error or cancelled)."""
    if res.get("status") in ("entered-in-error", "cancelled"):
        return None
    codings_of(res.get("code"))  # shape check
    return res


def read_all(
    items: Iterable[Any], reader: Callable[[dict[str, Any]], T | None], issues: list[str]
) -> list[T]:
    """Every entry the reader accepts; an entry it cannot read is skipped and reported in ``issues``."""
    out: list[T] = []
    for res in items:
        if not isinstance(res, dict):
            issues.append(NOT_AN_OBJECT)
            continue
        try:
            value = reader(res)
        except (ValueError, TypeError, AttributeError) as err:  # Malformed is a ValueError
            issues.append(f"{ref_of(res)} skipped: {err}")
            continue
        if value is not None:
            out.append(value)
    return out


# --- the index ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaggedCondition:
    condition: ConditionInfo
    tags: Mapping[str, Match]  # value set id → how the code matched


@dataclass(frozen=True)
class TaggedInterval:
    interval: Interval
    tags: Mapping[str, Match]  # by code
    names: Mapping[str, Match]  # by ingredient name (medications only; last resort, flagged)


@dataclass(frozen=True)
class OrderReason:
    ref: str  # the order ("ServiceRequest/<id>"): the evidence for facts taken from its reasons
    concept: Any
    tags: Mapping[str, Match]


@dataclass(frozen=True)
class Episode:
    """The back-pain episode: its conditions and start (the earliest dated one, else a default start)."""

    conditions: tuple[ConditionInfo, ...]
    start: date  # the earliest onset, else ``episodeDefaultDays`` before the evaluation date
    onset_ref: str | None  # the condition that dates the episode; None when none is dated

    @property
    def known(self) -> bool:
        return self.onset_ref is not None


@dataclass(frozen=True)
class RecordIndex:
    """One patient record read and tagged once for one order; rules only query it."""

    evaluation: date
    patient: dict[str, Any] | None
    birth: date | None
    unavailable: frozenset[str]  # resource types that could not be obtained
    conditions: tuple[TaggedCondition, ...]  # those in at least one value set
    medications: tuple[TaggedInterval, ...]  # those in at least one value set (by code or name)
    procedures: tuple[Interval, ...]  # every completed procedure
    tagged_procedures: tuple[TaggedInterval, ...]  # those in at least one value set
    devices: tuple[dict[str, Any], ...]
    reasons: tuple[OrderReason, ...]
    episode: Episode
    issues: tuple[str, ...]  # entries skipped while reading
    referrals: tuple[TaggedInterval, ...] = ()  # the patient's other ServiceRequests in a value set (§2.4)
    observations: tuple[dict[str, Any], ...] = ()  # every Observation (pregnancy status, §5.4)
    raw: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)  # by type: bodySite, results

    @property
    def age(self) -> int | None:
        return age_years(self.birth, self.evaluation) if self.birth is not None else None

    def conditions_in(
        self, current: Sequence[ValueSet], history: Sequence[ValueSet] = ()
    ) -> list[tuple[ConditionInfo, Match]]:
        """Current conditions coded in ``current``; any usable condition (whatever its clinical status)
        coded in ``history``."""
        return _conditions_in(self.conditions, current, history)

    def reasons_in(self, value_sets: Sequence[ValueSet]) -> list[str]:
        """Evidence refs of the order reasons coded in the value sets."""
        return [r.ref for r in self.reasons if first_tag(r.tags, value_sets)]

    def medications_in(self, value_sets: Sequence[ValueSet]) -> list[tuple[Interval, Match]]:
        """Medications in the value sets: by code, else (last resort, flagged) by ingredient name."""
        out = []
        for med in self.medications:
            found = first_tag(med.tags, value_sets) or first_tag(med.names, value_sets)
            if found:
                out.append((med.interval, found))
        return out

    def procedures_in(self, value_sets: Sequence[ValueSet]) -> list[tuple[Interval, Match]]:
        return [(p.interval, m) for p in self.tagged_procedures if (m := first_tag(p.tags, value_sets))]


def _conditions_in(
    conditions: Iterable[TaggedCondition], current: Sequence[ValueSet], history: Sequence[ValueSet]
) -> list[tuple[ConditionInfo, Match]]:
    out = []
    for tagged in conditions:
        cond = tagged.condition
        found = first_tag(tagged.tags, current) if cond.counted else None
        if found is None and cond.usable and history:
            found = first_tag(tagged.tags, history)
        if found:
            out.append((cond, found))
    return out


class SourceSets(NamedTuple):
    """The value sets of one settings.json ``facts`` entry, by use."""

    conditions: tuple[ValueSet, ...]  # conditionValueSets: current problems
    history: tuple[ValueSet, ...]  # historyValueSets: any usable condition, whatever its clinical status
    medications: tuple[ValueSet, ...]
    procedures: tuple[ValueSet, ...]
    devices: tuple[ValueSet, ...]  # deviceSafetyValueSets: Device.safety labels
    reasons: tuple[ValueSet, ...]  # conditions + history: what an order reason is matched against


#: id(criteria) → (criteria, source → its value sets): a memo of :func:`value_sets_of` (criteria are frozen)
_SETS_MEMO: dict[int, tuple[Criteria, dict[str, SourceSets]]] = {}


def value_sets_of(criteria: Criteria, source: str) -> SourceSets:
    """The value sets a settings.json ``facts`` entry lists (none for an entry that does not exist)."""
    memo = _SETS_MEMO.get(id(criteria))
    if memo is None or memo[0] is not criteria:
        if len(_SETS_MEMO) >= 8:
            _SETS_MEMO.clear()
        memo = _SETS_MEMO[id(criteria)] = (criteria, {})
    found = memo[1].get(source)
    if found is None:
        entry = criteria.fact_sources.get(source, {})

        def sets(key: str) -> tuple[ValueSet, ...]:
            return tuple(criteria.value_sets[v] for v in entry.get(key, []))

        conditions, history = sets("conditionValueSets"), sets("historyValueSets")
        found = memo[1][source] = SourceSets(
            conditions,
            history,
            sets("medicationValueSets"),
            sets("procedureValueSets"),
            sets("deviceSafetyValueSets"),
            conditions + history,
        )
    return found


def _episode(conditions: tuple[TaggedCondition, ...], criteria: Criteria, evaluation: date) -> Episode:
    """The episode starts with the current symptoms (clinical-rules §2.2): the earliest onset among counted
    symptom Conditions; structural diagnoses date it only when no symptom Condition is counted."""
    symptoms = value_sets_of(criteria, EPISODE_SYMPTOM_SOURCE)
    back = [c for c, _ in _conditions_in(conditions, symptoms.conditions, symptoms.history)]
    if not back:
        sets = value_sets_of(criteria, EPISODE_SOURCE)
        back = [c for c, _ in _conditions_in(conditions, sets.conditions, sets.history)]
    dated = [(c.dated, c.ref) for c in back if c.dated is not None]
    if not dated:
        default = evaluation - timedelta(days=criteria.thresholds[EPISODE_DEFAULT_SETTING])
        return Episode(tuple(back), default, None)
    start, ref = min(dated, key=lambda x: x[0])
    assert start is not None
    return Episode(tuple(back), start, ref)


def read_record(
    criteria: Criteria,
    *,
    order: dict[str, Any],
    order_reasons: Sequence[Any],
    patient: dict[str, Any] | None,
    resources: Mapping[str, list[dict[str, Any]]],
    unavailable: Iterable[str],
    evaluation: date,
) -> RecordIndex:
    """Read every patient resource once, tag it with its value sets, and index the result.

    One pass per resource type reads and tags each entry. Issues keep their order: read errors by type
    (Conditions, then their dates, medications, procedures, devices), then the unrecognised medications and
    procedures, referrals and reasons.
    """
    issues: list[str] = []
    late: list[str] = []  # unrecognised medications, then procedures: after every read error
    birth = parse_date(patient.get("birthDate")) if isinstance(patient, dict) else None
    supplied = {
        f"Medication/{m['id']}": m
        for m in resources.get("Medication", [])
        if isinstance(m, dict) and m.get("id")
    }
    tagged_conditions: list[TaggedCondition] = []
    dated_issues: list[str] = []
    for cond in read_all(resources.get("Condition", []), lambda res: read_condition(res, birth), issues):
        if cond.onset is not None or cond.recorded is not None:
            cond, issue = dated_before(cond, evaluation)
            if issue:
                dated_issues.append(issue)
        if tags := concept_tags(cond.code, criteria):
            tagged_conditions.append(TaggedCondition(cond, tags))
    issues += dated_issues
    tagged_medications: list[TaggedInterval] = []
    for items in (resources.get("MedicationStatement", []), resources.get("MedicationRequest", [])):
        for med in read_all(items, lambda res: read_medication(res, supplied, evaluation), issues):
            code_tags, names = concept_tags(med.concept, criteria), name_tags(med.concept, criteria)
            if code_tags or names:
                tagged_medications.append(TaggedInterval(med, code_tags, names))
            else:
                late.append(_not_recognised(med, "medication"))
    procedures: list[Interval] = []
    tagged_procedures: list[TaggedInterval] = []
    for proc in read_all(resources.get("Procedure", []), read_procedure, issues):
        procedures.append(proc)
        if tags := concept_tags(proc.concept, criteria):
            tagged_procedures.append(TaggedInterval(proc, tags, {}))
        elif not _imaging_code(proc.concept, criteria):
            late.append(_not_recognised(proc, "procedure"))
    devices = read_all(resources.get("Device", []), read_device, issues)
    issues += late
    order_ref = ref_of(order)
    referrals = []
    for res in resources.get("ServiceRequest", []):
        if isinstance(res, dict) and ref_of(res) != order_ref and res.get("status") not in REFERRAL_EXCLUDED:
            try:
                code = res.get("code")
                tags, names = concept_tags(code, criteria), name_tags(code, criteria)
            except ValueError as err:
                issues.append(f"{ref_of(res)} skipped: {err}")
                continue
            if tags or names:
                when = parse_date(res.get("authoredOn"))
                referral = Interval(ref_of(res), code, when, when, False, str(res.get("status") or ""))
                referrals.append(TaggedInterval(referral, tags, names))
    reasons = []
    for concept in order_reasons:
        try:
            reasons.append(OrderReason(order_ref, concept, concept_tags(concept, criteria)))
        except ValueError as err:
            issues.append(f"a reason of {order_ref} skipped: {err}")
    conditions = tuple(tagged_conditions)
    return RecordIndex(
        evaluation=evaluation,
        patient=patient,
        birth=birth,
        unavailable=frozenset(unavailable),
        conditions=conditions,
        medications=tuple(tagged_medications),
        procedures=tuple(procedures),
        tagged_procedures=tuple(tagged_procedures),
        devices=tuple(devices),
        reasons=tuple(reasons),
        episode=_episode(conditions, criteria, evaluation),
        issues=tuple(issues),
        referrals=tuple(referrals),
        # (the issues of unreadable Observations were never reported: the tuple above is taken first)
        observations=tuple(read_all(resources.get("Observation", []), read_observation, [])),
        raw={
            t: tuple([r for r in resources.get(t, []) if isinstance(r, dict)])
            for t in ("Procedure", "DiagnosticReport", "Observation")
        },
    )


def _not_recognised(item: Interval, kind: str) -> str:
    """The data issue for a medication or procedure that matches no value set (clinical-rules §1)."""
    texts = texts_of(item.concept)
    name = f" ({texts[0]})" if texts else ""
    return f"{item.ref}{name}: {kind} not recognised; not counted"


def _imaging_code(concept: Any, criteria: Criteria) -> bool:
    """A code of the imaging procedure table (a prior study is read by the prior-radiograph rule)."""
    return any((str(c.get("system")), str(c.get("code"))) in criteria.codes for c in codings_of(concept))
