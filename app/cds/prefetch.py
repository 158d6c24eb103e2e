"""The patient record behind a CDS Hooks call: prefetch first, the client's FHIR server second, else 412.

Decision table per prefetch key (CDS Hooks 2.0 §Prefetch; reference cds-hooks.md §1.4):

=========================================  ===========================================================
prefetch value                             action
=========================================  ===========================================================
a resource / a Bundle                      use it (a Bundle with a ``next`` link is incomplete: fetch)
``null``                                   the client looked and there is no data: use "none"
an OperationOutcome (or a Bundle with an   the client failed: fetch from ``fhirServer``
error OperationOutcome entry), key absent
=========================================  ===========================================================

Fetching uses ``app.fhir.record.fetch_record`` with the ``fhirAuthorization`` bearer token (never
logged, never stored: it lives only in the arguments of one call). Types in ``REQUIRED_TYPES`` that
cannot be obtained raise ``DataRequired`` (HTTP 412); the others become ``unavailable`` in the record,
so the facts that depend on them are *unknown* and the engine says so.

Records built only from prefetch are cached in a small LRU keyed by the hash of the canonical JSON of
the prefetch and the patient id: ``order-select`` fires again and again with the same prefetch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.clinical.assessment import RECORD_TYPES, PatientRecord, record_from_resources
from app.clinical.input_limits import InputLimits
from app.errors import DataRequired, SpineAucError
from app.fhir.client import FhirClient
from app.fhir.record import FetchedRecord, fetch_record

log = logging.getLogger("spine_auc.cds.prefetch")

T = TypeVar("T")


def _prefetch_entry(rtype: str) -> tuple[str, tuple[str, str]]:
    """``Patient`` → read by id under key ``patient``; ``Condition`` → searched under ``conditions``; …"""
    if rtype == "Patient":
        return "patient", (rtype, "Patient/{{context.patientId}}")
    key = rtype[0].lower() + rtype[1:] + "s"
    return key, (rtype, rtype + "?patient={{context.patientId}}")


# prefetch key -> (resource type, FHIR query template), one per record type. Only CDS Hooks 2.0 tokens
# (root context fields).
PREFETCH_TEMPLATES: dict[str, tuple[str, str]] = dict(_prefetch_entry(t) for t in RECORD_TYPES)

# Without these no rating means anything (age, back-pain episode, red flags): unobtainable -> 412.
REQUIRED_TYPES: frozenset[str] = frozenset({"Patient", "Condition"})


def discovery_prefetch() -> dict[str, str]:
    """The ``prefetch`` object advertised in discovery."""
    return {key: template for key, (_type, template) in PREFETCH_TEMPLATES.items()}


@dataclass
class PrefetchOutcome:
    """What the prefetch gave: resources per type, types obtained, types still to fetch, issues."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    obtained: set[str] = field(default_factory=set)
    to_fetch: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)


def _is_error_outcome(resource: Any) -> bool:
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return False
    issues = resource.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return any(isinstance(i, dict) and i.get("severity") in {"error", "fatal"} for i in issues)


def _has_next_link(bundle: dict[str, Any]) -> bool:
    links = bundle.get("link")
    return isinstance(links, list) and any(
        isinstance(lk, dict) and lk.get("relation") == "next" for lk in links
    )


class TooManyResources(SpineAucError):
    """A prefetch key carries more resources than one call reads (``MAX_PREFETCH_RESOURCES``)."""

    status = 422
    issue_code = "too-costly"


def read_prefetch(prefetch: dict[str, Any] | None, *, max_resources: int | None = None) -> PrefetchOutcome:
    """Apply the decision table to every key we declared; keys we did not declare are ignored.

    A Bundle with more than ``max_resources`` entries is refused (422): reading part of it could miss
    the one resource that matters.
    """
    out = PrefetchOutcome()
    given = prefetch or {}
    for key, (rtype, _template) in PREFETCH_TEMPLATES.items():
        if key not in given:
            out.to_fetch.append(rtype)
            continue
        value = given[key]
        if value is None:
            out.obtained.add(rtype)  # the client looked: nothing exists
            continue
        if _is_error_outcome(value):
            out.issues.append(f"prefetch {key!r}: the client reported an error; fetched from the FHIR server")
            out.to_fetch.append(rtype)
            continue
        if not isinstance(value, dict):
            out.issues.append(f"prefetch {key!r}: not a FHIR resource; fetched from the FHIR server")
            out.to_fetch.append(rtype)
            continue
        if value.get("resourceType") == "Bundle":
            raw_entries = value.get("entry")
            entries: list[Any] = raw_entries if isinstance(raw_entries, list) else []
            if max_resources is not None and len(entries) > max_resources:
                raise TooManyResources(
                    f"prefetch {key!r} has {len(entries)} entries; at most {max_resources} per key "
                    "(MAX_PREFETCH_RESOURCES)",
                    expression=[f"prefetch.{key}"],
                )
            resources = [e.get("resource") for e in entries if isinstance(e, dict)]
            if any(_is_error_outcome(r) for r in resources) or _has_next_link(value):
                why = (
                    "an error OperationOutcome"
                    if any(_is_error_outcome(r) for r in resources)
                    else "more pages"
                )
                out.issues.append(f"prefetch {key!r}: the Bundle has {why}; fetched from the FHIR server")
                out.to_fetch.append(rtype)
                continue
            # Keep every resource (contained-style Medication entries too); the record sorts them by type.
            out.resources.extend(
                r for r in resources if isinstance(r, dict) and r.get("resourceType") != "OperationOutcome"
            )
            out.obtained.add(rtype)
            continue
        if value.get("resourceType") == rtype:
            out.resources.append(value)
            out.obtained.add(rtype)
            continue
        out.issues.append(
            f"prefetch {key!r}: expected {rtype} or a Bundle, got {value.get('resourceType')!r}; fetched instead"
        )
        out.to_fetch.append(rtype)
    return out


def prefetch_cache_key(patient_id: str, prefetch: dict[str, Any] | None) -> str:
    """sha256 of the JSON of the prefetch and the patient id.

    Keys are not sorted: an EHR serialises its prefetch the same way each time, and sorting cost 0.3 ms per
    call on a 50-resource prefetch. An identical prefetch in another key order only misses the cache.
    """
    canonical = json.dumps(
        {"patient": patient_id, "prefetch": prefetch},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # surrogatepass: a lone surrogate escape ("\ud800") is valid JSON and must not crash the key.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class LruCache(Generic[T]):
    """A small, thread-safe LRU (``max_entries`` <= 0 disables it) that counts hits and misses."""

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._data: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> T | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: T) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


RecordCache = LruCache[PatientRecord]


def _with(record: PatientRecord, *, unavailable: set[str], issues: list[str]) -> PatientRecord:
    return PatientRecord(
        patient=record.patient,
        resources=record.resources,
        unavailable=set(record.unavailable) | unavailable,
        issues=list(record.issues) + issues,
        answers=list(record.answers),
    )


FetchFn = Callable[[str, list[str]], FetchedRecord]


def default_fetcher(
    fhir_server: str,
    access_token: str | None,
    *,
    deadline_seconds: float,
    timeout_seconds: float,
    page_cap: int,
    max_medication_reads: int = 50,
    limits: InputLimits | None = None,
) -> FetchFn:
    """The fetch function on ``app.fhir.record.fetch_record`` with the request's bearer token."""

    def fetch(patient_id: str, types: list[str]) -> FetchedRecord:
        client = FhirClient(
            fhir_server,
            bearer_token=access_token,
            deadline=deadline_seconds,
            timeout=min(timeout_seconds, deadline_seconds),
            page_cap=page_cap,
            max_medication_reads=max_medication_reads,
        )
        return fetch_record(client, patient_id, types, limits=limits)

    return fetch


def build_record(
    patient_id: str,
    prefetch: dict[str, Any] | None,
    *,
    fetch: FetchFn | None,
    cache: RecordCache | None = None,
    outcome: PrefetchOutcome | None = None,
) -> tuple[PatientRecord, dict[str, Any]]:
    """Return the PatientRecord and a small report (``source``: cache / prefetch / fetched, types fetched).

    ``fetch`` is ``None`` when the request gave no ``fhirServer``: then any type the prefetch does not
    cover is unobtainable (412 if required). ``outcome`` is ``read_prefetch(prefetch)`` when the caller
    already has it (the prefetch is read once per call).
    """
    outcome = outcome or read_prefetch(prefetch)
    info: dict[str, Any] = {"source": "prefetch", "fetched": [], "unavailable": [], "key": None}
    if not outcome.to_fetch:
        key = prefetch_cache_key(patient_id, prefetch)
        info["key"] = key
        if cache is not None:
            cached = cache.get(key)
            if cached is not None:
                info["source"] = "cache"
                return cached, info
        record = _with(record_from_resources(outcome.resources), unavailable=set(), issues=outcome.issues)
        if cache is not None:
            cache.put(key, record)
        return record, info

    issues = list(outcome.issues)
    unavailable: set[str] = set()
    resources = list(outcome.resources)
    if fetch is None:
        unavailable = set(outcome.to_fetch)
        issues.append("no fhirServer in the request: " + ", ".join(sorted(unavailable)) + " not obtained")
    else:
        info["source"] = "fetched"
        info["fetched"] = list(outcome.to_fetch)
        try:
            fetched = fetch(patient_id, outcome.to_fetch)
        except SpineAucError as err:
            # Never echo anything that could carry the token; the client's messages do not include it.
            log.warning("FHIR fetch failed for %s: %s", ",".join(outcome.to_fetch), type(err).__name__)
            unavailable = set(outcome.to_fetch)
            issues.append(f"FHIR server: {err.message}")
        else:
            resources.extend(fetched.resources)
            unavailable = {t for t in fetched.unavailable if t in outcome.to_fetch}
            issues.extend(fetched.issues)
    missing_required = sorted(unavailable & REQUIRED_TYPES)
    if missing_required:
        raise DataRequired(
            "required patient data could not be obtained from prefetch or the FHIR server: "
            + ", ".join(missing_required)
            + ("" if fetch is not None else " (the request has no fhirServer)"),
            expression=[f"prefetch.{k}" for k, (t, _) in PREFETCH_TEMPLATES.items() if t in missing_required],
        )
    info["unavailable"] = sorted(unavailable)
    return _with(record_from_resources(resources), unavailable=unavailable, issues=issues), info
