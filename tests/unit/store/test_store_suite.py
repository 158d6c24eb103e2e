"""The audit store's behaviour on SQLite. The same functions run on PostgreSQL from
tests/integration/test_store_postgres.py (which overrides the ``store_url`` fixture)."""

from __future__ import annotations

import gc
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update

from app.clinical.result import Result
from app.errors import InvalidInput
from app.store import tables as store_schema
from app.store.consultations import ConsultationStore, StoreError
from tests.results import no_criteria, rated


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'spine-auc.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[ConsultationStore]:
    opened = ConsultationStore.from_url(store_url)
    yield opened
    try:
        with opened.engine.begin() as conn:  # leave a shared server (PostgreSQL) empty for the next test
            store_schema.metadata.drop_all(conn)
    finally:
        opened.close()


def result(n: int = 1, *, order: str = "ServiceRequest/sr1", score: int | None = 8) -> Result:
    return rated(n, order=order, score=score)


def record(store: ConsultationStore, results: list[Result], patient: str = "Patient/p1") -> None:
    store.record_consultations(
        results,
        hook_instance="hook-1",
        request_id="req-1",
        caller_iss="https://ehr.example.org",
        tenant="tenant-a",
        patient=patient,
        latency_ms=12.5,
    )


def test_new_store_is_at_the_current_schema_version(store: ConsultationStore) -> None:
    assert store.schema_version == store_schema.CURRENT_VERSION
    with store.engine.connect() as conn:
        versions = conn.execute(text("SELECT version FROM schema_version ORDER BY version")).scalars().all()
    assert versions == [v for v, _, _ in store_schema.UPGRADES]


def test_reopening_runs_no_step_twice(store: ConsultationStore, store_url: str) -> None:
    record(store, [result()])
    again = ConsultationStore.from_url(store_url)
    assert again.schema_version == store_schema.CURRENT_VERSION
    assert again.count_consultations() == 1
    again.close()


def test_store_newer_than_release_refuses_to_open(store: ConsultationStore, store_url: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            store_schema.schema_version.insert().values(
                version=store_schema.CURRENT_VERSION + 1, description="future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(RuntimeError, match="newer than this release"):
        ConsultationStore.from_url(store_url)
    gc.collect()  # a connection the refused store left open would be collected here and warn (an error)


def test_recorded_consultation_round_trips_with_audit_fields(store: ConsultationStore) -> None:
    r = result()
    record(store, [r])
    found = store.get_consultation(r.consultation_id)
    assert found is not None
    assert found["result"] == r.to_json()
    audit = found["audit"]
    assert audit["hookInstance"] == "hook-1"
    assert audit["requestId"] == "req-1"
    assert audit["callerIss"] == "https://ehr.example.org"
    assert audit["tenant"] == "tenant-a"
    assert audit["patient"] == "Patient/p1"
    assert audit["order"] == "ServiceRequest/sr1"
    assert audit["orderCode"] == {"system": "http://www.ama-assn.org/go/cpt", "code": "72148"}
    assert audit["status"] == "rated"
    assert audit["topic"] == {"id": "acr-low-back-pain", "version": "2021"}
    assert audit["variant"] == 3
    assert audit["category"] == "usually-appropriate"
    assert audit["score"] == 8
    assert audit["pamaRating"] == "appropriate"
    assert audit["reasons"][0]["evidence"] == ["MedicationStatement/ms1"]
    assert audit["criteriaVersion"] == "2026.11-test"
    assert audit["latencyMs"] == pytest.approx(12.5)
    recorded = datetime.fromisoformat(audit["recordedAt"])
    assert abs((datetime.now(UTC) - recorded).total_seconds()) < 60


def test_unrated_result_with_nulls_is_recorded(store: ConsultationStore) -> None:
    r = no_criteria(service_request="ServiceRequest/chest")
    record(store, [r])
    found = store.get_consultation(r.consultation_id)
    assert found is not None and found["audit"]["status"] == "no-criteria"
    assert found["audit"]["score"] is None and found["audit"]["orderCode"] is None


def test_unknown_consultation_is_none(store: ConsultationStore) -> None:
    assert store.get_consultation("urn:uuid:" + str(uuid.uuid4())) is None


def test_batch_is_one_transaction_and_a_failed_write_is_an_error(store: ConsultationStore) -> None:
    first = result()
    record(store, [first])
    fresh = result()
    with pytest.raises(StoreError) as caught:
        record(store, [fresh, first])  # duplicate id: the whole batch fails
    assert caught.value.status == 503
    assert store.get_consultation(fresh.consultation_id) is None
    assert store.count_consultations() == 1


def test_write_to_a_broken_store_raises_store_error(store: ConsultationStore) -> None:
    with store.engine.begin() as conn:
        store_schema.consultations.drop(conn)
    with pytest.raises(StoreError):
        record(store, [result()])
    with store.engine.begin() as conn:
        store_schema.consultations.create(conn)


def test_result_without_consultation_id_is_refused(store: ConsultationStore) -> None:
    bad = replace(result(), consultation_id="")
    with pytest.raises(StoreError):
        record(store, [bad])


def test_list_by_patient_pages_newest_first(store: ConsultationStore) -> None:
    ids = []
    for n in range(5):
        r = result(n)
        ids.append(r.consultation_id)
        record(store, [r], patient="Patient/paged")
    record(store, [result()], patient="Patient/other")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        items, cursor = store.list_consultations(patient="Patient/paged", limit=2, cursor=cursor)
        pages += 1
        seen.extend(item["consultationId"] for item in items)
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))


def test_list_by_order(store: ConsultationStore) -> None:
    wanted = result(order="ServiceRequest/x")
    record(store, [wanted, result(order="ServiceRequest/y")])
    items, cursor = store.list_consultations(order="ServiceRequest/x")
    assert [i["consultationId"] for i in items] == [wanted.consultation_id]
    assert cursor is None


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "eDox", "YzE6YWJj"])
def test_bad_cursor_is_invalid_input(store: ConsultationStore, cursor: str) -> None:
    with pytest.raises(InvalidInput):
        store.list_consultations(patient="Patient/p1", cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_limit_out_of_range_is_invalid_input(store: ConsultationStore, limit: int) -> None:
    with pytest.raises(InvalidInput):
        store.list_consultations(patient="Patient/p1", limit=limit)


def test_feedback_is_idempotent_on_repeats(store: ConsultationStore) -> None:
    item = {
        "card": "card-uuid-1",
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "pt-declined", "system": "http://example.org/r"}},
        "outcomeTimestamp": "2026-11-23T10:00:00Z",
    }
    assert store.record_feedback("spine-auc-order-select", item, caller_iss="https://ehr") is True
    assert store.record_feedback("spine-auc-order-select", dict(item), caller_iss="https://ehr") is False
    accepted = {
        "card": "card-uuid-1",
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "s1"}],
        "outcomeTimestamp": "2026-11-23T10:01:00Z",
    }
    assert store.record_feedback("spine-auc-order-select", accepted, caller_iss="https://ehr") is True
    stored = store.list_feedback("card-uuid-1")
    assert [f["outcome"] for f in stored] == ["overridden", "accepted"]
    assert stored[0]["overrideReason"]["reason"]["code"] == "pt-declined"
    assert stored[1]["acceptedSuggestions"] == [{"id": "s1"}]


@pytest.mark.parametrize(
    "item", [{"outcome": "accepted"}, {"card": "c"}, {"card": "", "outcome": "accepted"}]
)
def test_feedback_without_card_or_outcome_is_invalid(store: ConsultationStore, item: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        store.record_feedback("svc", item, caller_iss=None)


def test_jti_claimed_once_per_issuer(store: ConsultationStore) -> None:
    exp = int(datetime.now(UTC).timestamp()) + 300
    assert store.claim_jti("https://a", "jti-1", exp) is True
    assert store.claim_jti("https://a", "jti-1", exp) is False
    assert store.claim_jti("https://b", "jti-1", exp) is True


def test_concurrent_claims_of_one_jti_have_one_winner(store: ConsultationStore) -> None:
    exp = int(datetime.now(UTC).timestamp()) + 300
    outcomes: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        won = store.claim_jti("https://race", "same-jti", exp)
        with lock:
            outcomes.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False] * 7 + [True]


def test_purge_removes_only_old_rows(store: ConsultationStore) -> None:
    old, recent = result(), result()
    record(store, [old, recent])
    with store.engine.begin() as conn:
        conn.execute(
            update(store_schema.consultations)
            .where(store_schema.consultations.c.consultation_id == old.consultation_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=40))
        )
    assert store.purge_older_than(30) == 1
    assert store.get_consultation(old.consultation_id) is None
    assert store.get_consultation(recent.consultation_id) is not None


def test_sqlite_store_is_wal_with_full_sync(store: ConsultationStore) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite pragmas only apply to the SQLite store")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_concurrent_first_start_on_an_empty_database(store: ConsultationStore, store_url: str) -> None:
    with store.engine.begin() as conn:
        store_schema.metadata.drop_all(conn)  # back to an empty database
    versions: list[int] = []
    errors: list[str] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            opened = ConsultationStore.from_url(store_url)
        except Exception as exc:  # any failure here is the bug under test
            errors.append(repr(exc))
            return
        versions.append(opened.schema_version)
        opened.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert versions == [store_schema.CURRENT_VERSION] * 4
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT COUNT(*) FROM schema_version")).scalar()
    assert rows == len(store_schema.UPGRADES)
